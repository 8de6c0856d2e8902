"""The defects of the leased-work review, each shown on moto in-process: chunks and jobs now share one claim, one renewal, one classifier."""

import json
import os
import threading
import time

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from jobs import objects, queues, services
from jobs.chunk_content import chunk_outcomes
from jobs.exceptions import IdempotencyKeyReused, JobStateConflict
from jobs.handlers.registry import _REGISTRY, PermanentError, item_type, job_type
from jobs.services import bounds
from jobs.services.items import chunks as chunk_writes
from jobs.services.lease import claim as lease_claim
from jobs.services.lease.outcome import Outcome
from jobs.tables import CHUNK_SK_PREFIX, JOB_SK, Chunk, Job, chunk_sk

pytestmark = pytest.mark.usefixtures("aws")

RUNS: list = []  # (job id, line) of every item run by the test types below


def _register():
    if "leasetest" in _REGISTRY:
        return

    @item_type("leasetest")
    def leasetest(item, ctx):
        """Runs an item: sleeps `sleep`, strikes the time limit at `limit`, returns `big` bytes."""
        RUNS.append((ctx.job_id, ctx.line))
        if item.get("sleep"):
            time.sleep(item["sleep"])
        if item.get("limit"):
            raise SoftTimeLimitExceeded()
        if item.get("fail_until") and not os.path.exists(item["fail_until"]):
            raise PermanentError("f" * 900)
        return {"v": item.get("v"), "pad": "x" * int(item.get("big", 0))}

    @job_type("chatty")
    def chatty(payload, ctx):
        """Logs far more than a timeline holds, then fails with a huge message."""
        for i in range(int(payload.get("lines", 0))):
            ctx.log(("ünïcødé " * 2000) + str(i))
        if payload.get("fail"):
            raise RuntimeError("x" * 1_000_000)
        return {"pad": "r" * int(payload.get("result", 0))}


_register()


@pytest.fixture(autouse=True)
def _clear_runs():
    RUNS.clear()


def _submit(items, type="leasetest", **kw):
    source = services.items_inline(type=type, values=items, on_invalid=kw.pop("on_invalid", "reject"))
    job, _ = services.job_submit_items(owner="u", name="n", type=type, payload=kw.pop("payload", {}), source=source, **kw)
    return job


def _chunk(job, number=1) -> Chunk:
    return Chunk.get(job.job_id, chunk_sk(number), consistent_read=True)


def _job(job) -> Job:
    return Job.get(job.job_id, JOB_SK, consistent_read=True)


# 1. A slow chunk: the time limit keeps what ran, the next attempt runs the rest, attempts are capped.

def test_a_chunk_that_reaches_its_time_limit_keeps_its_outcomes_and_runs_only_the_rest_next_time(chunk_messages):
    job = _submit([{"v": 1}, {"v": 2}, {"v": 3, "limit": True}, {"v": 4}], chunk_size=10)
    chunk_messages.clear()
    assert services.chunk_execute(job_id=job.job_id, number=1, worker="w") is Outcome.RETRYING
    chunk = _chunk(job)
    assert chunk.chunk_status == "PENDING" and [o is not None for o in chunk_outcomes(chunk)] == [True, True, False, False]
    assert chunk_messages == [(job.job_id, 1)]  # the retry's message (with an SQS delay)
    # Next attempt: item 3 ran out the limit with two items before it, so it is simply run again.
    Chunk(job.job_id, chunk_sk(1)).update(actions=[Chunk.items.set([{"v": 1}, {"v": 2}, {"v": 3}, {"v": 4}])])
    assert services.chunk_execute(job_id=job.job_id, number=1, worker="w") is Outcome.COMPLETED
    assert [line for _, line in RUNS] == [1, 2, 3, 3, 4]  # 1 and 2 ran once
    done = _job(job)
    assert (done.status, done.items_succeeded, done.items_failed) == ("COMPLETED", 4, 0)


def test_an_item_that_alone_uses_the_whole_time_limit_fails_and_the_chunk_moves_on(chunk_messages):
    job = _submit([{"v": 1, "limit": True}, {"v": 2}], chunk_size=10)
    assert services.chunk_execute(job_id=job.job_id, number=1, worker="w") is Outcome.RETRYING
    assert chunk_outcomes(_chunk(job))[0]["e"]["code"] == "time_limit_exceeded"
    assert services.chunk_execute(job_id=job.job_id, number=1, worker="w") is Outcome.COMPLETED
    assert (_job(job).items_succeeded, _job(job).items_failed) == (1, 1)


def test_a_chunk_out_of_attempts_ends_with_its_unrun_items_failed_and_the_job_completes(chunk_messages):
    job = _submit([{"v": 1}, {"v": 2}], chunk_size=10)
    Chunk(job.job_id, chunk_sk(1)).update(actions=[Chunk.attempts.set(3)])  # three workers died running it
    assert services.chunk_execute(job_id=job.job_id, number=1, worker="w") is Outcome.EXHAUSTED
    chunk, done = _chunk(job), _job(job)
    assert chunk.chunk_status == "DONE" and RUNS == []
    assert [o["e"]["code"] for o in chunk_outcomes(chunk)] == ["chunk_attempts_exhausted"] * 2
    assert (done.status, done.items_failed, done.chunks_done) == ("COMPLETED", 2, 1)


def test_one_item_slower_than_the_lease_keeps_its_chunk(chunk_messages, settings):
    settings.BATCHLAB_LEASE_SECONDS = 2
    job = _submit([{"v": 1, "sleep": 5}], chunk_size=10)
    runner = threading.Thread(target=services.chunk_execute, kwargs={"job_id": job.job_id, "number": 1, "worker": "slow"})
    runner.start()
    while _chunk(job).chunk_status != "PROCESSING":
        time.sleep(0.05)
    first_expiry = int(_chunk(job).lease_expires_at)
    while time.time() < first_expiry + 1.2:  # past the lease the claim took: only a renewal during the item keeps it
        time.sleep(0.05)
    taken = chunk_writes.chunk_claim(job_id=job.job_id, number=1, worker="other")
    runner.join()
    assert isinstance(taken, lease_claim.Refused) and taken.outcome is Outcome.BUSY
    assert [line for _, line in RUNS] == [1] and _job(job).status == "COMPLETED"


# 2. A transaction conflict is no lost lease.

def _canceled(*codes):
    cause = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}},
                               "TransactWriteItems", cancellation_reasons=[CancellationReason(code=c) for c in codes])
    return TransactWriteError("Transaction cancelled", cause=cause)


def test_a_chunk_finish_that_meets_a_conflicting_transaction_is_tried_again_not_taken_for_a_lost_lease(chunk_messages, monkeypatch):
    job = _submit([{"v": 1}, {"v": 2}], chunk_size=1)
    real = lease_claim.transact_write
    conflicts = []

    def conflicting(unit, actions, condition, also):
        if len(conflicts) < 2:  # the first two tries meet another chunk's finish on the job item
            conflicts.append(1)
            raise _canceled("None", "TransactionConflict")
        return real(unit, actions, condition, also)

    monkeypatch.setattr(lease_claim, "transact_write", conflicting)
    assert services.chunk_execute(job_id=job.job_id, number=1, worker="w") is Outcome.COMPLETED
    assert len(conflicts) == 2 and _chunk(job).chunk_status == "DONE"
    assert _job(job).items_succeeded == 1 and [line for _, line in RUNS] == [1]


# 3. Recovery does not fail a retried job again for the same dead letter.

def test_a_dead_lettered_job_that_is_retried_is_not_failed_again_by_its_old_dead_letter(published):
    job, _ = services.job_submit(owner="alice", name="t", type="echo", payload={"x": 1})
    from batchlab.celery import app
    body = None
    with app.producer_or_acquire() as producer:
        channel = producer.channel
        captured = []
        client = channel.sqs()

        class Capture:
            def __getattr__(self, name):
                return getattr(client, name)

            def send_message(self, **kwargs):
                captured.append(kwargs)

        channel.sqs = lambda queue=None: Capture()
        try:
            app.send_task("jobs.process_job", args=[job.job_id], task_id=job.job_id, producer=producer, retry=False)
        finally:
            del channel.sqs
        body = captured[0]["MessageBody"]
    dlq = queues.sqs_client().get_queue_url(QueueName=queues.dlq_name())["QueueUrl"]
    queues.sqs_client().send_message(QueueUrl=dlq, MessageBody=body)
    assert services.jobs_recover().dead_lettered == [job.job_id]
    assert _job(job).error["code"] == "dead_lettered"
    services.job_retry(job_id=job.job_id, owner="alice", actor="alice")
    assert services.jobs_recover().dead_lettered == []
    assert _job(job).status == "QUEUED"


# 4. Stale outcomes never win; a run that lost its lease never overwrites the winner's.

def test_a_retry_whose_outcomes_fit_inline_is_read_not_the_previous_runs_in_s3(chunk_messages, settings, tmp_path):
    settings.BATCHLAB_INLINE_OUTCOMES_BYTES = 500
    cure = tmp_path / "cure"
    job = _submit([{"v": 0, "fail_until": str(cure)}, {"v": 1}], chunk_size=10)
    services.chunk_execute(job_id=job.job_id, number=1, worker="w")
    first = _chunk(job)
    assert first.outcomes is None and first.outcomes_object  # a long error: the outcomes went to S3
    cure.write_text("ok")
    services.job_retry(job_id=job.job_id, owner="u", actor="u")
    services.chunk_execute(job_id=job.job_id, number=1, worker="w")
    again = _chunk(job)
    # Small now: inline, and the pointer to the previous run's outcomes is gone (before, the reader preferred it).
    assert again.outcomes_object is None and chunk_outcomes(again)[0]["r"]["v"] == 0
    assert (_job(job).items_succeeded, _job(job).items_failed) == (2, 0)


def test_a_run_that_lost_its_lease_writes_its_outcomes_under_its_own_key(chunk_messages, settings):
    settings.BATCHLAB_INLINE_OUTCOMES_BYTES = 10
    job = _submit([{"v": 1}], chunk_size=10)
    old = chunk_writes.chunk_claim(job_id=job.job_id, number=1, worker="old")
    Chunk(job.job_id, chunk_sk(1)).update(actions=[Chunk.lease_expires_at.set(0)])
    new = chunk_writes.chunk_claim(job_id=job.job_id, number=1, worker="new")
    chunk_writes.chunk_finish(claim=new, outcomes=[{"r": "winner"}])
    with pytest.raises(services.LeaseLost):
        chunk_writes.chunk_finish(claim=old, outcomes=[{"r": "late"}])
    assert chunk_outcomes(_chunk(job)) == [{"r": "winner"}]


# 5. Every item a job writes stays bounded.

def _item_size(raw: dict) -> int:
    """DynamoDB's size of an item (names + values; numbers taken at their widest)."""
    def value(v):
        (kind, inner), = v.items()
        if kind in ("S", "B"):
            return len(inner.encode("utf-8") if isinstance(inner, str) else inner)
        if kind == "N":
            return 21
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "L":
            return 3 + sum(value(x) + 1 for x in inner)
        if kind == "M":
            return 3 + sum(len(k.encode()) + value(x) + 1 for k, x in inner.items())
        return len(json.dumps(inner))
    return sum(len(k.encode()) + value(v) for k, v in raw.items())


def _raw(job_id: str, sk: str = JOB_SK) -> dict:
    client = Job._get_connection().connection.client
    return client.get_item(TableName=Job.Meta.table_name, Key={"JobId": {"S": job_id}, "SK": {"S": sk}})["Item"]


def test_seven_64_kb_items_are_cut_into_chunks_that_each_fit_a_dynamodb_item(chunk_messages):
    items = [{"v": i, "pad": "p" * (63 * 1024)} for i in range(7)]
    job = _submit(items, chunk_size=100)  # 441 KB in all: cut by count alone, one chunk, which DynamoDB refuses
    chunks = list(Chunk.query(job.job_id, Chunk.sk.startswith(CHUNK_SK_PREFIX)))
    assert [int(c.item_count) for c in chunks] == [3, 3, 1]
    assert max(_item_size(_raw(job.job_id, c.sk)) for c in chunks) < bounds.chunk_item_bound() < 400 * 1024


def test_a_job_stays_under_its_bound_whatever_its_handler_logs_fails_with_or_how_often_it_is_retried(published):
    job, _ = services.job_submit(owner="alice", name="n" * 200, type="chatty", payload={"lines": 5000, "fail": True}, validate=False)
    for _ in range(8):  # three attempts each, then a user's retry, eight times over
        while _job(job).status == "QUEUED":
            services.job_execute(job_id=job.job_id, worker="w" * 60)
        services.job_retry(job_id=job.job_id, owner="alice", actor="alice")
    size = _item_size(_raw(job.job_id))
    assert size < bounds.job_item_bound() < 400 * 1024
    while _job(job).status == "QUEUED":
        services.job_execute(job_id=job.job_id, worker="w" * 60)
    assert _job(job).status == "FAILED" and len(_job(job).error["message"].encode()) <= 1000


def test_a_handlers_huge_error_message_is_cut_on_the_job_path(published):
    job, _ = services.job_submit(owner="alice", name="t", type="echo", payload={})
    claim = services.job_claim(job_id=job.job_id, worker="w")
    services.job_fail(claim=claim, code="permanent_error", message="é" * 500_000)
    stored = _job(job)
    assert stored.status == "FAILED" and len(stored.error["message"].encode()) <= 1000
    assert all(len((e.message or "").encode()) <= 500 for e in stored.timeline)


def test_a_job_with_the_largest_payload_and_result_completes_within_the_bound(published, settings):
    payload = {"lines": 0, "result": settings.BATCHLAB_MAX_RESULT_BYTES - 20, "x": "p" * (settings.BATCHLAB_MAX_PAYLOAD_BYTES - 100)}
    job, _ = services.job_submit(owner="alice", name="n", type="chatty", payload=payload, validate=False)
    assert services.job_execute(job_id=job.job_id, worker="w") == "completed"
    assert _item_size(_raw(job.job_id)) < bounds.job_item_bound()


def test_one_unit_that_cannot_be_written_is_reported_and_the_pass_goes_on(published, monkeypatch):
    jobs = [services.job_submit(owner="alice", name="t", type="echo", payload={"x": i})[0] for i in range(2)]
    for job in jobs:
        services.job_claim(job_id=job.job_id, worker="dead")
        Job(job.job_id, JOB_SK).update(actions=[Job.lease_expires_at.set(0)])
    from jobs.services.recovery import sweep
    real = sweep.unit_requeue_expired

    def poison(*, kind, unit, now, actions=()):
        if unit.job_id == jobs[0].job_id:
            raise RuntimeError("Item size has exceeded the maximum allowed size")
        return real(kind=kind, unit=unit, now=now, actions=actions)

    monkeypatch.setattr(sweep, "unit_requeue_expired", poison)
    report = services.jobs_recover()
    assert report.requeued == [jobs[1].job_id] and [label for label, _ in report.errors] == [jobs[0].job_id]


# 6. The backlog guard covers chunks: republished with backoff, not every pass.

def test_a_stale_chunk_behind_a_backlog_is_republished_with_backoff_not_every_pass(chunk_messages):
    job = _submit([{"v": 1}], chunk_size=10)
    url = queues.sqs_client().get_queue_url(QueueName=queues.queue_name())["QueueUrl"]
    queues.sqs_client().send_message(QueueUrl=url, MessageBody="a backlog")
    chunk_messages.clear()
    Chunk(job.job_id, chunk_sk(1)).update(actions=[Chunk.available_at.set(int(time.time()) - 130)])
    assert services.jobs_recover(stale_queued_seconds=60).chunks_republished == [f"{job.job_id}#1"]
    assert services.jobs_recover(stale_queued_seconds=60).chunks_republished == []  # its next copy waits longer
    assert chunk_messages == [(job.job_id, 1)]


# 7. Requests that grow without bound.

def test_a_long_file_with_chunk_size_1_gets_at_most_max_chunks_and_sort_keys_stay_in_order(settings):
    import io

    from jobs.services.items.files import items_file_scan

    settings.BATCHLAB_MAX_CHUNKS = 100
    data = b"".join(f'"{i}"\n'.encode() for i in range(1050))
    source = items_file_scan(type="checksum", stream=io.BytesIO(data), chunk_size=1, on_invalid="reject")
    assert len(source.ranges) <= 100 and source.chunk_size >= 11
    assert sum(r[1] for r in source.ranges) == 1050 and source.ranges[-1][2] + source.ranges[-1][3] == len(data)
    with pytest.raises(ValueError):
        chunk_sk(1_000_000)  # would sort before CHUNK#100000: refused, and MAX_CHUNKS keeps numbers below it


def test_skipped_invalid_items_are_recorded_by_their_chunks(chunk_messages):
    items = ["ok" if i % 2 else 5 for i in range(600)]
    job = _submit(items, type="checksum", chunk_size=10, on_invalid="skip")
    for _, number in list(chunk_messages):
        services.chunk_execute(job_id=job.job_id, number=number, worker="w")
    done = _job(job)
    assert (done.status, done.items_succeeded, done.items_failed) == ("COMPLETED", 300, 300)


# 8. Smaller.

def test_a_message_for_a_scheduled_job_is_not_claimed_and_the_job_stays_scheduled(published):
    from datetime import datetime, timedelta, timezone

    job, _ = services.job_submit(owner="alice", name="t", type="echo", payload={},
                                 run_at=datetime.now(timezone.utc) + timedelta(hours=2))
    assert services.job_execute(job_id=job.job_id, worker="w") is Outcome.NOT_CLAIMABLE
    assert _job(job).status == "SCHEDULED"


def test_retry_cancel_retry_of_an_item_job_is_no_server_error(chunk_messages, tmp_path):
    cure = tmp_path / "cure"
    job = _submit([{"v": 1, "fail": True}, {"v": 2}], type="probe", chunk_size=1, payload={"cure_file": str(cure)})
    for _, n in list(chunk_messages):
        services.chunk_execute(job_id=job.job_id, number=n, worker="w")
    services.job_retry(job_id=job.job_id, owner="u", actor="u")
    services.job_cancel(job_id=job.job_id, owner="u", actor="u")  # QUEUED: canceled at once, its chunk still PENDING
    assert _job(job).status == "CANCELED"
    with pytest.raises(JobStateConflict):
        services.job_retry(job_id=job.job_id, owner="u", actor="u")  # nothing final to retry: a clear 409, no 500
    cure.write_text("ok")
    chunk_messages.clear()
    assert services.chunk_execute(job_id=job.job_id, number=1, worker="w") is Outcome.CANCELED
    services.job_retry(job_id=job.job_id, owner="u", actor="u")
    for _, n in list(chunk_messages):
        services.chunk_execute(job_id=job.job_id, number=n, worker="w")
    assert (_job(job).status, _job(job).items_succeeded) == ("COMPLETED", 2)


def test_the_due_time_is_part_of_the_idempotency_key_body(published):
    from datetime import datetime, timedelta, timezone

    at = datetime.now(timezone.utc) + timedelta(hours=1)
    services.job_submit(owner="alice", name="t", type="echo", payload={}, idempotency_key="k", run_at=at)
    with pytest.raises(IdempotencyKeyReused):
        services.job_submit(owner="alice", name="t", type="echo", payload={}, idempotency_key="k", run_at=at + timedelta(hours=1))


def test_an_item_job_replayed_with_its_key_writes_no_chunks_and_uploads_nothing(chunk_messages, settings):
    import io

    from jobs.services.items.files import job_submit_file

    def upload():
        return job_submit_file(owner="u", name="f", type="checksum", payload={}, stream=io.BytesIO(b'"a"\n"b"\n'), idempotency_key="k")

    upload()
    items = sum(1 for _ in Chunk.scan())
    keys = objects.s3_client().list_objects_v2(Bucket=settings.BATCHLAB_BUCKET).get("KeyCount")
    again, created = upload()
    assert not created
    assert sum(1 for _ in Chunk.scan()) == items
    assert objects.s3_client().list_objects_v2(Bucket=settings.BATCHLAB_BUCKET).get("KeyCount") == keys


def test_a_store_that_does_not_answer_a_progress_write_costs_no_attempt(published, monkeypatch):
    from jobs.exceptions import StoreUnavailable
    from jobs.services.jobs import transitions

    real, failures = transitions.job_progress, []

    def flaky(**kw):
        if not failures:
            failures.append(1)
            raise StoreUnavailable()
        return real(**kw)

    monkeypatch.setattr(transitions, "job_progress", flaky)
    job, _ = services.job_submit(owner="alice", name="t", type="sleep", payload={"seconds": 2})
    assert services.job_execute(job_id=job.job_id, worker="w") == "completed"
    assert failures and int(_job(job).attempts) == 1
