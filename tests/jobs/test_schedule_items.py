"""Delayed item jobs and schedules of item types, on moto in-process (DynamoDB, S3) with an injected clock."""

import io
import time
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from jobs import objects, services, timing
from jobs.services import publishing
from jobs.services.schedules import items as schedule_items
from jobs.services.schedules import scheduler
from jobs.services.schedules.scheduler import schedule_job_create
from jobs.services.store import utcnow
from jobs.tables import CHUNK_SK_PREFIX, JOB_SK, Chunk, Job
from jobs.tables.schedules import EDIT_PREFIX, Schedule, ScheduleLogEntry

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def chunk_messages(monkeypatch):
    """Chunk messages as (job id, number, delay) instead of SQS."""
    sent = []

    def fake(*, job_id, numbers, delay_seconds=0, priority=None, flow=None):
        sent.extend((job_id, n, delay_seconds) for n in numbers)
        return 0

    monkeypatch.setattr(publishing, "chunks_publish", fake)
    return sent


@pytest.fixture
def client(django_user_model) -> APIClient:
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("alice", password="pw"))
    return client


def run_chunks(messages) -> list[str]:
    done = [services.chunk_execute(job_id=j, number=n, worker="w") for j, n, _ in list(messages)]
    messages.clear()
    return done


def keys(prefix: str) -> list[str]:
    listed = objects.s3_client().list_objects_v2(Bucket="batchlab-items", Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def submit_items(values, *, run_at=None, **kw):
    source = services.items_inline(type="checksum", values=values)
    job, _ = services.job_submit_items(owner="alice", name="n", type="checksum", payload={}, source=source,
                                       chunk_size=2, run_at=run_at, **kw)
    return job


# -- delayed item jobs ---------------------------------------------------------------------------------------------


def test_an_item_job_a_few_minutes_ahead_is_queued_with_its_chunks_on_an_sqs_delay(chunk_messages):
    job = submit_items(["a", "b", "c"], run_at=utcnow() + timedelta(seconds=300))
    assert job.status == "QUEUED" and job.due_at >= time.time() + 298
    assert [(n, 298 <= d <= 301) for _, n, d in chunk_messages] == [(1, True), (2, True)]
    chunks = list(Chunk.query(job.job_id, Chunk.sk.startswith(CHUNK_SK_PREFIX)))
    # Not stale for the recovery pass before it is due.
    assert all(c.available_at == job.due_at for c in chunks)


def test_an_item_job_far_ahead_is_scheduled_then_its_chunks_go_out_when_due_and_complete(chunk_messages):
    job = submit_items(["a", "b", "c"], run_at=utcnow() + timedelta(hours=3))
    assert job.status == "SCHEDULED" and chunk_messages == []
    assert services.jobs_release_due(now=job.due_at - 60) == []
    assert services.jobs_release_due(now=job.due_at) == [job.job_id]
    assert [(j, n) for j, n, _ in chunk_messages] == [(job.job_id, 1), (job.job_id, 2)]
    assert run_chunks(chunk_messages) == ["completed", "completed"]
    job = Job.get(job.job_id, JOB_SK)
    assert job.status == "COMPLETED" and job.items_succeeded == 3


def test_a_scheduled_item_job_run_now_queues_every_chunk_at_once(chunk_messages):
    job = submit_items(["a", "b", "c", "d", "e"], run_at=utcnow() + timedelta(days=2))
    services.job_run_now(job_id=job.job_id, owner="alice", actor="alice")
    assert [(n, d) for _, n, d in chunk_messages] == [(1, 0), (2, 0), (3, 0)]


def test_a_canceled_scheduled_item_job_stops_its_chunks_and_a_retry_runs_them(chunk_messages):
    job = submit_items(["a", "b", "c"], run_at=utcnow() + timedelta(hours=3))
    services.job_cancel(job_id=job.job_id, owner="alice", actor="alice")
    canceled = Job.get(job.job_id, JOB_SK)
    assert (canceled.status, canceled.chunks_done) == ("CANCELED", 2)
    stopped = Chunk.query(job.job_id, Chunk.sk.startswith(CHUNK_SK_PREFIX))
    assert [c.chunk_status for c in stopped] == ["CANCELED", "CANCELED"]
    assert chunk_messages == []  # stopped in the store: no message, no claim per chunk
    assert services.jobs_release_due(now=job.due_at + 1) == []  # it left the due index
    services.job_retry(job_id=job.job_id, owner="alice", actor="alice")
    assert run_chunks(chunk_messages) == ["completed", "completed"]
    assert Job.get(job.job_id, JOB_SK).status == "COMPLETED"


def test_the_api_takes_run_at_and_delay_seconds_for_item_jobs_inline_and_from_a_file(client, chunk_messages):
    inline = client.post("/jobs", {"name": "later", "type": "checksum", "items": ["a", "b"], "delay_seconds": 7200},
                         format="json")
    assert inline.status_code == 201, inline.content
    assert inline.json()["status"] == "SCHEDULED" and inline.json()["run_at"]
    upload = io.BytesIO(b'"x"\n"y"\n')
    upload.name = "items.ndjson"
    at = (utcnow() + timedelta(hours=2)).isoformat()
    filed = client.post("/jobs/files", {"name": "f", "type": "checksum", "file": upload, "run_at": at}, format="multipart")
    assert filed.status_code == 201, filed.content
    assert filed.json()["status"] == "SCHEDULED" and chunk_messages == []
    past = client.post("/jobs", {"name": "p", "type": "checksum", "items": ["a"], "run_at": "2001-01-01T00:00:00Z"},
                       format="json")
    assert past.status_code == 400 and "run_at" in past.json()["errors"]


# -- schedules of item types ---------------------------------------------------------------------------------------


def make(**kw) -> Schedule:
    fields = dict(owner="alice", name="nightly", type="checksum", payload={}, interval_seconds=60,
                  items=["a", "b", "c"], chunk_size=2)
    fields.update(kw)
    return services.schedule_create(**fields)


def test_a_schedule_with_items_keeps_them_in_s3_and_each_run_is_an_item_job_over_its_own_copy(chunk_messages):
    schedule = make()
    assert schedule.items_total == 3 and schedule.chunk_size == 2
    assert keys(f"schedules/{schedule.schedule_id}/") == [schedule.items_object, schedule.items_object + ".index.json"]
    due = int(schedule.next_run_at)
    report = services.schedules_tick(now=due)
    job_id = timing.run_job_id(schedule_id=schedule.schedule_id, due_at=due)
    assert report.fired == [(schedule.schedule_id, due, job_id)]
    job = Job.get(job_id, JOB_SK)
    assert (job.status, job.items_total, job.chunks_total, job.schedule_id, job.due_at) == (
        "QUEUED", 3, 2, schedule.schedule_id, due)
    assert job.items_object == f"items/{job_id}.ndjson" and keys("items/") == [job.items_object]
    assert run_chunks(chunk_messages) == ["completed", "completed"]
    job = Job.get(job_id, JOB_SK)
    assert job.status == "COMPLETED" and job.items_succeeded == 3
    assert Schedule.get(schedule.schedule_id).last_run.job_id == job_id


def test_a_run_whose_job_exists_is_not_written_again(chunk_messages):
    """A scheduler that died after creating the run's job: completing the firing must not reset its chunks."""
    schedule = make()
    due = int(schedule.next_run_at)
    job_id = timing.run_job_id(schedule_id=schedule.schedule_id, due_at=due)
    first = schedule_job_create(schedule=schedule, job_id=job_id, due_at=due)
    messages = list(chunk_messages)
    chunk_messages.clear()
    again = schedule_job_create(schedule=schedule, job_id=job_id, due_at=due)  # still QUEUED: its chunks go out again
    assert again.job_id == first.job_id and chunk_messages == messages
    chunk_messages.clear()
    assert services.chunk_execute(job_id=job_id, number=1, worker="w") == "completed"
    schedule_job_create(schedule=schedule, job_id=job_id, due_at=due)  # PROCESSING now: nothing written, nothing sent
    assert chunk_messages == []
    assert Chunk.get(job_id, f"{CHUNK_SK_PREFIX}000001").chunk_status == "DONE"  # not put back to PENDING
    assert run_chunks(messages) == ["final", "completed"]  # the duplicate of chunk 1 is refused
    job = Job.get(job_id, JOB_SK)
    assert job.status == "COMPLETED" and job.items_succeeded == 3


def test_a_schedule_whose_items_are_gone_does_not_hold_up_the_others_and_fires_once_it_has_items(chunk_messages, published):
    broken, fine = make(name="broken"), make(name="fine", type="echo", payload={}, items=None, chunk_size=None)
    objects.objects_delete(keys=[broken.items_object, broken.items_object + ".index.json"])
    due = max(int(broken.next_run_at), int(fine.next_run_at))
    report = services.schedules_tick(now=due)
    assert [f[0] for f in report.fired] == [fine.schedule_id]
    assert [e[0] for e in report.errors] == [broken.schedule_id] and "missing from S3" in report.errors[0][1]
    stored = Schedule.get(broken.schedule_id)
    assert stored.pending_kind == "fire"  # claimed, its job not created: a later tick tries again
    services.schedule_update(schedule_id=broken.schedule_id, owner="alice", actor="alice", changes={"items": ["new"]})
    later = services.schedules_tick(now=due + 10)  # past the grace period
    assert later.completed == [broken.schedule_id] and later.errors == []
    job = Job.get(timing.run_job_id(schedule_id=broken.schedule_id, due_at=stored.pending_due_at), JOB_SK)
    assert job.items_total == 1


def test_items_checked_when_the_schedule_is_created_nothing_stored_when_one_is_bad():
    from jobs.exceptions import InvalidItems

    with pytest.raises(InvalidItems) as refused:
        make(items=["ok", 5, "fine", {"no": 1}])
    assert refused.value.errors["items"][0].startswith("line 2:") and len(refused.value.errors["items"]) == 2
    assert keys("schedules/") == []
    skipped = make(items=["ok", 5], on_invalid="skip")
    assert (skipped.items_total, skipped.items_invalid) == (2, 1)


def test_editing_items_replaces_the_stored_objects_and_is_recorded(chunk_messages):
    schedule = make()
    old = schedule.items_object
    edited = services.schedule_update(schedule_id=schedule.schedule_id, owner="alice", actor="bob",
                                      changes={"items": ["x", "y", "z", "w", "v"]})
    assert edited.items_total == 5 and edited.items_object != old
    assert keys(f"schedules/{schedule.schedule_id}/") == [edited.items_object, edited.items_object + ".index.json"]
    stored = Schedule.get(schedule.schedule_id)
    edit = list(ScheduleLogEntry.query(schedule.schedule_id, ScheduleLogEntry.sk.startswith(EDIT_PREFIX)))[-1]
    assert edit.changes == {"items": ["3 items", "5 items"]} and edit.actor == "bob"
    services.schedules_tick(now=int(stored.next_run_at))
    assert len(chunk_messages) == 3  # five items in chunks of two
    services.schedule_delete(schedule_id=schedule.schedule_id, owner="alice", actor="alice")
    assert keys("schedules/") == []
    assert list(ScheduleLogEntry.query(schedule.schedule_id)) == []  # its runs and edits went with it


def test_the_schedules_api_takes_items_inline_and_from_files_and_lists_what_is_wrong(client, chunk_messages):
    created = client.post("/schedules", {"name": "n", "type": "checksum", "interval_seconds": 60, "items": ["a", "b"],
                                         "max_failed_ratio": 0.5}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["items"] == {"total": 2, "invalid": 0, "chunk_size": 100, "max_failed_ratio": 0.5,
                                       "on_invalid": "reject"}
    sid = created.json()["id"]
    upload = io.BytesIO(b'"q"\n"r"\n"s"\n')
    upload.name = "new.ndjson"
    replaced = client.put(f"/schedules/{sid}/items", {"file": upload, "chunk_size": 1}, format="multipart")
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["items"]["total"] == 3 and replaced.json()["items"]["chunk_size"] == 1
    upload = io.BytesIO(b'"q"\n')
    upload.name = "x.ndjson"
    from_file = client.post("/schedules/files", {"name": "f", "type": "checksum", "interval_seconds": "60", "cron": "",
                                                 "payload": "{}", "file": upload}, format="multipart")
    assert from_file.status_code == 201, from_file.content
    assert from_file.json()["items"]["total"] == 1

    def errors(body, path="/schedules", method="post"):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 400 and response["Content-Type"] == "application/problem+json", response.content
        return response.json()

    assert "runs item by item" in errors({"name": "n", "type": "transform", "interval_seconds": 60})["errors"]["items"][0]
    # checksum runs both ways: without items it is a payload job, its payload read as one.
    assert "payload.items" in errors({"name": "n", "type": "checksum", "interval_seconds": 60})["errors"]
    payload_job = client.post("/schedules", {"name": "n", "type": "checksum", "interval_seconds": 60,
                                             "payload": {"items": ["a", "b"]}}, format="json")
    assert payload_job.status_code == 201 and payload_job.json()["items"] is None, payload_job.content
    assert "does not take items" in errors({"name": "n", "type": "echo", "interval_seconds": 60, "items": [1]})["errors"]["items"][0]
    both = errors({"name": "n", "type": "echo", "interval_seconds": 60, "chunk_size": 5, "max_failed_ratio": 0.5})["errors"]
    assert set(both) == {"chunk_size", "max_failed_ratio"}
    bad = errors({"name": "n", "type": "checksum", "interval_seconds": 60, "items": ["a", 7]})
    assert bad["code"] == "invalid_items" and bad["errors"]["items"][0].startswith("line 2:")
    switch = errors({"type": "echo", "payload": {}}, path=f"/schedules/{sid}", method="patch")
    assert "items: null" in switch["errors"]["items"][0]
    # A payload schedule of a type that runs both ways takes items from a file: its runs become item jobs.
    upload = io.BytesIO(b'"m"\n"n"\n')
    upload.name = "m.ndjson"
    converted = client.put(f"/schedules/{payload_job.json()['id']}/items", {"file": upload}, format="multipart")
    assert converted.status_code == 200 and converted.json()["items"]["total"] == 2, converted.content
    upload = io.BytesIO(b'"m"\n')
    upload.name = "m.ndjson"
    echo = client.post("/schedules", {"name": "e", "type": "echo", "interval_seconds": 60}, format="json").json()
    refused = client.put(f"/schedules/{echo['id']}/items", {"file": upload}, format="multipart")
    assert refused.status_code == 400 and "file" in refused.json()["errors"]
    dropped = client.patch(f"/schedules/{sid}", {"type": "echo", "payload": {}, "items": None}, format="json")
    assert dropped.status_code == 200 and dropped.json()["items"] is None
    assert keys(f"schedules/{sid}/") == []


# -- races and failures of a run's creation (review findings) ------------------------------------------------------


def test_a_second_creator_of_a_run_never_resets_the_chunks_the_first_one_wrote(chunk_messages, monkeypatch):
    """Two schedulers completing one firing at once: the second one did not see the job yet and writes too."""
    schedule = make(items=["a", "b", "c"], chunk_size=2)
    due = int(schedule.next_run_at)
    job_id = timing.run_job_id(schedule_id=schedule.schedule_id, due_at=due)
    schedule_job_create(schedule=schedule, job_id=job_id, due_at=due)
    assert services.chunk_execute(job_id=job_id, number=1, worker="w") == "completed"
    monkeypatch.setattr(schedule_items, "_existing", lambda job_id: None)  # B read before A's job was stored
    chunk_messages.clear()
    schedule_job_create(schedule=schedule, job_id=job_id, due_at=due)
    assert Chunk.get(job_id, f"{CHUNK_SK_PREFIX}000001").chunk_status == "DONE"
    assert services.chunk_execute(job_id=job_id, number=2, worker="w") == "completed"
    job = Job.get(job_id, JOB_SK)
    assert (job.status, job.items_succeeded, job.chunks_done) == ("COMPLETED", 3, 2)


def test_a_claimed_run_takes_the_items_of_its_claim_even_if_an_edit_replaced_them(chunk_messages, settings):
    settings.BATCHLAB_SCHEDULER_FAULT = ""
    schedule = make(items=["a", "b", "c"])
    due = int(schedule.next_run_at)
    # Claim only (as a scheduler that stops at the fault point would): the pending mark names the items.
    report = scheduler.TickReport()
    monkeypatch_create = scheduler._create_pending
    scheduler._create_pending = lambda s, r: None
    try:
        scheduler.schedule_fire_due(schedule=Schedule.get(schedule.schedule_id), now=due, report=report)
    finally:
        scheduler._create_pending = monkeypatch_create
    claimed = Schedule.get(schedule.schedule_id)
    assert claimed.pending_kind == "fire" and claimed.pending_items == schedule.items_object
    services.schedule_update(schedule_id=schedule.schedule_id, owner="alice", actor="alice", changes={"items": ["x"]})
    assert schedule.items_object in keys("schedules/")  # kept for the claimed run
    later = services.schedules_tick(now=due + 10)
    assert later.completed == [schedule.schedule_id]
    job = Job.get(timing.run_job_id(schedule_id=schedule.schedule_id, due_at=due), JOB_SK)
    assert job.items_total == 3  # the items of the claim, not the edit's one item


def test_a_run_that_cannot_be_made_is_given_up_after_its_attempts_and_logged_failed(chunk_messages, settings):
    settings.BATCHLAB_SCHEDULE_FIRE_ATTEMPTS = 2
    schedule = make()
    objects.objects_delete(keys=[schedule.items_object, schedule.items_object + ".index.json"])
    due = int(schedule.next_run_at)
    first = services.schedules_tick(now=due)
    assert [e[0] for e in first.errors] == [schedule.schedule_id]
    assert Schedule.get(schedule.schedule_id).pending_attempts == 1
    second = services.schedules_tick(now=due + 10)
    assert [e[0] for e in second.errors] == [schedule.schedule_id]
    stored = Schedule.get(schedule.schedule_id)
    assert stored.pending_kind is None and stored.next_run_at > due  # the schedule goes on
    runs = list(ScheduleLogEntry.query(schedule.schedule_id, ScheduleLogEntry.sk.startswith("RUN#")))
    assert [r.outcome for r in runs] == ["fired", "failed"] and "missing from S3" in runs[-1].message


def test_a_transaction_canceled_for_a_conflict_or_throttling_is_no_refusal():
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    from jobs.services.store import Answer, is_condition_failure, refusal_of

    def canceled(*codes):
        cause = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "canceled"}},
                                   "TransactWriteItems",
                                   cancellation_reasons=[CancellationReason(code=c) if c else None for c in codes])
        return TransactWriteError("canceled", cause=cause)

    assert is_condition_failure(canceled("None", "ConditionalCheckFailed"))
    assert refusal_of(canceled("None", "ConditionalCheckFailed")).index == 1  # which operation's condition was false
    # Real DynamoDB cancels two transactions on one item at once with TransactionConflict:
    # nothing was written and nothing was refused; the writer tries again.
    assert not is_condition_failure(canceled(None, "TransactionConflict"))
    assert refusal_of(canceled(None, "TransactionConflict")).answer is Answer.CONFLICT
    assert refusal_of(canceled("None", "ThrottlingError")).answer is Answer.THROTTLED
    assert not is_condition_failure(canceled("ValidationError"))


def test_edits_check_inline_item_bytes_and_ask_for_items_again_when_the_type_changes(client, settings):
    created = client.post("/schedules", {"name": "n", "type": "wordcount", "interval_seconds": 60, "items": ["a b"]},
                          format="json").json()
    settings.BATCHLAB_MAX_INLINE_ITEMS_BYTES = 20
    big = client.patch(f"/schedules/{created['id']}", {"items": ["x" * 40]}, format="json")
    assert big.status_code == 413 and big.json()["code"] == "payload_too_large"
    retyped = client.patch(f"/schedules/{created['id']}", {"type": "checksum"}, format="json")
    assert retyped.status_code == 400 and "give them again" in retyped.json()["errors"]["items"][0]
    echo = client.post("/schedules", {"name": "e", "type": "echo", "interval_seconds": 60}, format="json").json()
    noop = client.patch(f"/schedules/{echo['id']}", {"items": None}, format="json")
    assert noop.status_code == 200 and noop.json()["version"] == echo["version"]  # nothing to drop, nothing written


def test_a_schedule_made_before_the_log_table_loses_its_old_lists_at_its_next_write(chunk_messages):
    schedule = make(type="echo", payload={}, items=None, chunk_size=None)
    Schedule(schedule.schedule_id).update(actions=[Schedule.legacy_runs.set([{"x": "y" * 100}] * 20)])
    services.schedule_pause(schedule_id=schedule.schedule_id, owner="alice", actor="alice")
    assert Schedule.get(schedule.schedule_id).legacy_runs is None
