"""Which webhook event each writer of a job's status records in the job's outbox (through the effects hook), in-process (moto's mock AWS)."""

import time

import pytest

from jobs import services
from jobs.services import webhooks
from jobs.states import JobStatus
from jobs.tables import JOB_SK, Job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]

EVERY_EVENT = ["job.started", "job.completed", "job.failed", "job.canceled", "job.progress"]


@pytest.fixture
def everything(receiver):
    endpoint, _ = webhooks.webhook_create(owner="alice", url=receiver.url, events_wanted=EVERY_EVENT)
    return endpoint


def outbox_types(job_id: str) -> list[str]:
    job = Job.get(job_id, JOB_SK, consistent_read=True)
    return sorted(e["Type"] for e in (job.outbox.as_dict() if job.outbox is not None else {}).values())


def dispatched(hook_messages) -> int:
    return sum(1 for m in hook_messages if m[0] == webhooks.DISPATCH_TASK)


def test_a_run_records_started_then_completed_each_handed_over(published, hook_messages, everything):
    job, _ = services.job_submit(owner="alice", name="j", type="echo", payload={})
    assert outbox_types(job.job_id) == []
    assert services.job_execute(job_id=job.job_id, worker="w1") == "completed"
    assert outbox_types(job.job_id) == ["job.completed", "job.started"] and dispatched(hook_messages) == 2


def test_a_failed_job_records_job_failed(published, hook_messages, everything):
    job, _ = services.job_submit(owner="alice", name="j", type="fail", payload={"message": "no"})
    services.job_execute(job_id=job.job_id, worker="w1")
    assert outbox_types(job.job_id) == ["job.failed", "job.started"]


def test_a_retry_later_is_no_event_and_each_attempt_starts(published, hook_messages, everything):
    job, _ = services.job_submit(owner="alice", name="j", type="flaky", payload={"failures": 1})
    services.job_execute(job_id=job.job_id, worker="w1")
    assert Job.get(job.job_id, JOB_SK).status == JobStatus.QUEUED and outbox_types(job.job_id) == ["job.started"]
    services.job_execute(job_id=job.job_id, worker="w1")
    assert outbox_types(job.job_id) == ["job.completed", "job.started", "job.started"]


def test_a_queued_job_canceled_records_job_canceled(published, hook_messages, everything):
    job, _ = services.job_submit(owner="alice", name="j", type="echo", payload={})
    services.job_cancel(job_id=job.job_id, owner="alice", actor="alice")
    assert outbox_types(job.job_id) == ["job.canceled"] and dispatched(hook_messages) == 1


def test_a_running_job_canceled_records_job_canceled_once_it_stops(published, hook_messages, everything):
    job, _ = services.job_submit(owner="alice", name="j", type="sleep", payload={"seconds": 1})
    claim = services.job_claim(job_id=job.job_id, worker="w1")
    services.job_cancel(job_id=job.job_id, owner="alice", actor="alice")
    assert outbox_types(job.job_id) == ["job.started"]  # a cancel request keeps the status: no event yet
    services.job_mark_canceled(claim=claim)
    assert outbox_types(job.job_id) == ["job.canceled", "job.started"]


def test_progress_raises_at_most_one_event_per_five_seconds(published, hook_messages, everything):
    job, _ = services.job_submit(owner="alice", name="j", type="sleep", payload={"seconds": 1})
    claim = services.job_claim(job_id=job.job_id, worker="w1")
    services.job_progress(claim=claim, done=1, total=4)
    services.job_progress(claim=claim, done=2, total=4)
    assert outbox_types(job.job_id) == ["job.progress", "job.started"]
    claim.job.hook_progress_at = time.time() - 6  # the last progress event as if 6 s ago
    services.job_progress(claim=claim, done=3, total=4)
    assert outbox_types(job.job_id) == ["job.progress", "job.progress", "job.started"]


def test_an_item_job_starts_with_its_first_chunk_and_ends_once(published, hook_messages, receiver):
    webhooks.webhook_create(owner="alice", url=receiver.url, events_wanted=["job.started", "job.completed", "job.failed"])
    source = services.items_inline(type="checksum", values=[f"v{i}" for i in range(5)], on_invalid="reject")
    job, _ = services.job_submit_items(owner="alice", name="n", type="checksum", payload={}, source=source, chunk_size=2)
    for number in range(1, 4):
        services.chunk_execute(job_id=job.job_id, number=number, worker="w")
    assert Job.get(job.job_id, JOB_SK).status == JobStatus.COMPLETED
    assert outbox_types(job.job_id) == ["job.completed", "job.started"]


def test_only_the_events_subscribed_to_are_recorded(published, hook_messages, receiver):
    webhooks.webhook_create(owner="alice", url=receiver.url, events_wanted=["job.failed"])
    job, _ = services.job_submit(owner="alice", name="j", type="echo", payload={})
    services.job_execute(job_id=job.job_id, worker="w1")
    assert outbox_types(job.job_id) == [] and hook_messages == []


def test_an_item_jobs_chunks_raise_progress_at_most_once_per_five_seconds_and_none_once_it_ended(published, hook_messages, everything):
    source = services.items_inline(type="checksum", values=[f"v{i}" for i in range(4)], on_invalid="reject")
    job, _ = services.job_submit_items(owner="alice", name="n", type="checksum", payload={}, source=source, chunk_size=1)
    services.chunk_execute(job_id=job.job_id, number=1, worker="w")
    assert outbox_types(job.job_id) == ["job.progress", "job.started"]
    Job(job.job_id, JOB_SK).update(actions=[Job.hook_progress_at.set(time.time())])  # the last one just now
    services.chunk_execute(job_id=job.job_id, number=2, worker="w")  # within 5 s of it: none
    assert outbox_types(job.job_id) == ["job.progress", "job.started"]
    Job(job.job_id, JOB_SK).update(actions=[Job.hook_progress_at.set(time.time() - 6)])  # the last one as if 6 s ago
    services.chunk_execute(job_id=job.job_id, number=3, worker="w")
    assert outbox_types(job.job_id) == ["job.progress", "job.progress", "job.started"]
    Job(job.job_id, JOB_SK).update(actions=[Job.hook_progress_at.set(time.time() - 6)])
    services.chunk_execute(job_id=job.job_id, number=4, worker="w")  # the last chunk: the job ends, no progress after it
    assert Job.get(job.job_id, JOB_SK).status == JobStatus.COMPLETED
    assert outbox_types(job.job_id) == ["job.completed", "job.progress", "job.progress", "job.started"]
