"""Item jobs on moto in-process: chunks next to the job, exact counters, duplicates counted once, retry of failed items only."""

import hashlib

import pytest

from jobs import services
from jobs.exceptions import InvalidItems
from jobs.services.items import chunks as chunk_services
from jobs.services.items import completion
from jobs.services.lease.outcome import Outcome
from jobs.tables import CHUNK_SK_PREFIX, JOB_SK, Chunk, Job


def _submit(type="checksum", items=None, **kw):
    source = services.items_inline(type=type, values=items, on_invalid=kw.pop("on_invalid", "reject"))
    job, _ = services.job_submit_items(owner="u", name="n", type=type, payload=kw.pop("payload", {}), source=source, **kw)
    return job


def _run_all(messages):
    return [services.chunk_execute(job_id=j, number=n, worker="w") for j, n in list(messages)]


def test_job_and_chunks_share_the_partition_and_chunks_stay_out_of_job_indexes(aws, chunk_messages):
    job = _submit(items=[f"s{i}" for i in range(250)])
    stored = list(Chunk.query(job.job_id, Chunk.sk.startswith(CHUNK_SK_PREFIX)))
    assert [c.sk for c in stored] == ["CHUNK#000001", "CHUNK#000002", "CHUNK#000003"]
    assert [int(c.item_count) for c in stored] == [100, 100, 50]
    assert chunk_messages == [(job.job_id, 1), (job.job_id, 2), (job.job_id, 3)]
    listed = list(Job.owner_index.query("u"))
    assert [j.job_id for j in listed] == [job.job_id]  # the chunks are not in the index


def test_every_chunk_runs_and_the_last_one_completes_the_job_with_exact_counts(aws, chunk_messages):
    items = [f"s{i}" for i in range(250)]
    job = _submit(items=items)
    assert _run_all(chunk_messages) == [Outcome.COMPLETED] * 3
    done = Job.get(job.job_id, JOB_SK)
    assert done.status == "COMPLETED"
    assert (done.items_succeeded, done.items_failed, done.items_skipped, done.chunks_done) == (250, 0, 0, 3)
    outcomes = Chunk.get(job.job_id, "CHUNK#000003").outcomes
    assert outcomes[0] == {"r": {"sha256": hashlib.sha256(b"s200").hexdigest()}}


def test_a_duplicate_chunk_message_is_refused_and_counted_once(aws, chunk_messages):
    job = _submit(items=["a", "b", "c"], chunk_size=2)
    _run_all(chunk_messages)
    assert services.chunk_execute(job_id=job.job_id, number=1, worker="w2") is Outcome.FINAL
    done = Job.get(job.job_id, JOB_SK)
    assert (done.items_succeeded, done.chunks_done, done.status) == (3, 2, "COMPLETED")


def test_bad_items_are_listed_by_line_and_refused_unless_skipped(aws, chunk_messages):
    with pytest.raises(InvalidItems) as refused:
        _submit(items=["a", 3, "b", {"x": 1}])
    assert refused.value.errors["items"] == ["line 2: Must be a string.", "line 4: Must be a string."]
    job = _submit(items=["a", 3, "b"], on_invalid="skip")
    _run_all(chunk_messages)
    done = Job.get(job.job_id, JOB_SK)
    assert (done.status, done.items_succeeded, done.items_failed) == ("COMPLETED", 2, 1)


def test_failed_share_over_the_threshold_fails_the_job(aws, chunk_messages):
    items = [{"v": i, "fail": i % 2 == 0} for i in range(10)]
    job = _submit(type="probe", items=items, max_failed_ratio=0.2)
    _run_all(chunk_messages)
    done = Job.get(job.job_id, JOB_SK)
    assert done.status == "FAILED" and done.error["code"] == "too_many_failed_items"
    assert (done.items_succeeded, done.items_failed) == (5, 5)


def test_retry_reruns_only_chunks_with_failed_items_and_moves_counts_by_the_difference(aws, chunk_messages, tmp_path):
    cure = tmp_path / "cure"
    items = [{"v": i, "fail": i == 15} for i in range(30)]
    job = _submit(type="probe", items=items, chunk_size=10, payload={"cure_file": str(cure)})
    _run_all(chunk_messages)
    done = Job.get(job.job_id, JOB_SK)
    assert (done.status, done.items_succeeded, done.items_failed) == ("COMPLETED", 29, 1)
    chunk_messages.clear()
    cure.write_text("ok")
    services.job_retry(job_id=job.job_id, owner="u", actor="u")
    assert chunk_messages == [(job.job_id, 2)]
    assert Job.get(job.job_id, JOB_SK).status == "QUEUED"
    _run_all(chunk_messages)
    again = Job.get(job.job_id, JOB_SK)
    assert (again.status, again.items_succeeded, again.items_failed, again.chunks_done) == ("COMPLETED", 30, 0, 3)


def test_idempotency_keys_completed_by_an_earlier_job_are_skipped(aws, chunk_messages):
    items = [{"item": f"s{i}", "idempotency_key": f"k{i}"} for i in range(5)]
    first = _submit(items=items)
    _run_all(chunk_messages)
    chunk_messages.clear()
    second = _submit(items=items + [{"item": "new", "idempotency_key": "k-new"}])
    _run_all(chunk_messages)
    a, b = Job.get(first.job_id, JOB_SK), Job.get(second.job_id, JOB_SK)
    assert (a.items_succeeded, a.items_skipped) == (5, 0)
    assert (b.items_succeeded, b.items_skipped, b.status) == (1, 5, "COMPLETED")


def test_cancel_before_chunks_run_ends_the_job_and_runs_no_item(aws, chunk_messages):
    job = _submit(items=["a", "b", "c"], chunk_size=1)
    services.job_cancel(job_id=job.job_id, owner="u", actor="u")
    assert _run_all(chunk_messages) == [Outcome.CANCELED] * 3
    done = Job.get(job.job_id, JOB_SK)
    assert (done.status, done.items_succeeded) == ("CANCELED", 0)


def test_a_plain_job_claim_never_takes_an_item_job(aws, chunk_messages):
    job = _submit(items=["a"])
    assert services.job_execute(job_id=job.job_id, worker="w") is Outcome.NOT_CLAIMABLE


def test_transform_applies_declared_operations_and_fails_items_alone(aws, chunk_messages):
    ops = [{"op": "rename", "from": "n", "to": "name"}, {"op": "upper", "field": "name"}, {"op": "parse_number", "field": "age"},
           {"op": "pick", "fields": ["name", "age"]}]
    job = _submit(type="transform", items=[{"n": "ada", "age": "36", "x": 1}, {"n": "bob", "age": "old"}], payload={"ops": ops})
    _run_all(chunk_messages)
    outcomes = Chunk.get(job.job_id, "CHUNK#000001").outcomes
    assert outcomes[0] == {"r": {"name": "ADA", "age": 36}}
    assert outcomes[1]["e"]["code"] == "permanent_error" and "not a number" in outcomes[1]["e"]["message"]
    assert completion.job_items_finish_if_done(job_id=job.job_id) is None  # already ended, once


def test_large_outcomes_go_to_s3_and_results_read_them_back_in_order(aws, chunk_messages, settings):
    from jobs import selectors as item_selectors

    settings.BATCHLAB_INLINE_OUTCOMES_BYTES = 200
    items = [f"s{i}" for i in range(30)]
    job = _submit(items=items, chunk_size=10)
    _run_all(chunk_messages)
    chunk = Chunk.get(job.job_id, "CHUNK#000002")
    assert chunk.outcomes is None and chunk.outcomes_object == f"outcomes/{job.job_id}/000002/{chunk.claim_token}.json"
    rows = list(item_selectors.job_results(job=Job.get(job.job_id, JOB_SK)))
    assert [r["line"] for r in rows] == list(range(1, 31))
    assert [r["result"]["sha256"] for r in rows] == [hashlib.sha256(s.encode()).hexdigest() for s in items]


def test_recovery_requeues_a_chunk_whose_lease_expired_and_ends_a_job_left_done_but_open(aws, chunk_messages):
    import time

    job = _submit(items=["a", "b", "c"], chunk_size=1)
    claim = chunk_services.chunk_claim(job_id=job.job_id, number=1, worker="dead")
    Chunk(job.job_id, "CHUNK#000001").update(actions=[Chunk.lease_expires_at.set(int(time.time()) - 1)])
    chunk_messages.clear()
    report = services.jobs_recover()
    assert report.chunks_requeued == [f"{job.job_id}#1"] and chunk_messages == [(job.job_id, 1)]
    assert Chunk.get(job.job_id, "CHUNK#000001").chunk_status == "PENDING"
    with pytest.raises(services.LeaseLost):  # the dead worker's late finish is fenced out
        chunk_services.chunk_finish(claim=claim, outcomes=[{"r": 1}])
    for number in (1, 2, 3):
        assert services.chunk_execute(job_id=job.job_id, number=number, worker="w") is Outcome.COMPLETED
    assert Job.get(job.job_id, JOB_SK).items_succeeded == 3
    # A worker that died between its chunk's transaction and ending the job: recovery ends it.
    other = _submit(items=["x"])
    other_claim = chunk_services.chunk_claim(job_id=other.job_id, number=1, worker="w")
    chunk_services.chunk_finish(claim=other_claim, outcomes=[{"r": 1}])
    assert Job.get(other.job_id, JOB_SK).status == "QUEUED"
    assert services.jobs_recover().items_ended == [other.job_id]
    ended = Job.get(other.job_id, JOB_SK)
    assert (ended.status, ended.items_succeeded) == ("COMPLETED", 1)


def test_reading_lines_keeps_memory_bounded_and_offsets_exact():
    import io

    from jobs.items import OversizedLine, iter_lines

    data = b'"a"\n' + b"x" * 1000 + b'\n"b"\n' + b"y" * 700
    lines = list(iter_lines(io.BytesIO(data), block=64, max_line=100))
    assert lines[0] == b'"a"\n' and lines[2] == b'"b"\n'
    assert isinstance(lines[1], OversizedLine) and len(lines[1]) == 1001
    assert isinstance(lines[3], OversizedLine) and len(lines[3]) == 700
    assert sum(len(line) for line in lines) == len(data)


def test_a_file_scan_names_bad_lines_and_splits_chunks_by_byte_range(settings):
    import io

    from jobs.services.items.files import items_file_scan

    settings.BATCHLAB_MAX_ITEM_BYTES = 50
    lines = [b'"a"\n', b'"' + b"z" * 80 + b'"\n', b'"c"\n', b"nope\n", b'"e"']
    with pytest.raises(InvalidItems) as refused:
        items_file_scan(type="checksum", stream=io.BytesIO(b"".join(lines)), chunk_size=2, on_invalid="reject")
    assert refused.value.errors["items"] == ["line 2: The line is 83 bytes; an item may have 50.",
                                             "line 4: Not valid JSON: Expecting value: line 1 column 1 (char 0)."]
    source = items_file_scan(type="checksum", stream=io.BytesIO(b"".join(lines)), chunk_size=2, on_invalid="skip")
    assert source.total == 5 and sorted(source.invalid) == [2, 4] and source.invalid_count == 2
    assert source.ranges == [(1, 2, 0, 87), (3, 2, 87, 9), (5, 1, 96, 3)]


def test_bootstrap_creates_the_bucket_with_lifecycle_rules_for_job_objects_only(aws, settings):
    """A job lives up to its delay (<= retention) plus the retention: its objects are kept twice that; a schedule's never expire."""
    from jobs import objects

    rules = objects.s3_client().get_bucket_lifecycle_configuration(Bucket=settings.BATCHLAB_BUCKET)["Rules"]
    assert [(r["Filter"]["Prefix"], r["Status"], r["Expiration"]["Days"]) for r in rules] == [
        ("items/", "Enabled", 14), ("outcomes/", "Enabled", 14)]
    assert objects.bucket_bootstrap().endswith("exists, objects under items/, outcomes/ expire after 14 day(s)")  # idempotent


@pytest.mark.parametrize("delay", [70368744177664, 10**20])
def test_a_huge_delay_is_a_validation_error_not_an_overflow(delay):
    from jobs.serializers import JobSubmitSerializer
    from jobs.serializers.items import BulkJobSerializer

    for serializer in (JobSubmitSerializer, BulkJobSerializer):
        form = serializer(data={"name": "a", "type": "echo", "delay_seconds": delay})
        assert not form.is_valid() and "retention period" in str(form.errors["delay_seconds"])


def test_a_file_upload_retried_with_its_idempotency_key_returns_the_first_job(aws, chunk_messages):
    import io

    from jobs.exceptions import IdempotencyKeyReused
    from jobs.services.items.files import job_submit_file

    def upload(content: bytes):
        return job_submit_file(owner="u", name="f", type="checksum", payload={}, stream=io.BytesIO(content), idempotency_key="k1")

    first, created = upload(b'"a"\n"b"\n')
    again, created_again = upload(b'"a"\n"b"\n')
    assert created and not created_again and again.job_id == first.job_id
    with pytest.raises(IdempotencyKeyReused):
        upload(b'"a"\n"c"\n')
