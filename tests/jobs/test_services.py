"""Services against moto's in-process DynamoDB: claims, fencing, cancel, retry, idempotency, recovery."""

import time

import pytest

from jobs import services
from jobs.exceptions import IdempotencyKeyReused, InvalidPayload, JobNotFound, JobStateConflict, UnknownJobType
from jobs.services import job_execute
from jobs.tables import JOB_SK, Job

pytestmark = pytest.mark.usefixtures("aws")


def submit(published, type="echo", payload=None, owner="alice", **kw):
    job, created = services.job_submit(owner=owner, name="t", type=type, payload=payload or {"x": 1}, **kw)
    return job


def test_submit_stores_a_queued_job_and_publishes_only_its_id(published):
    job = submit(published)
    stored = Job.get(job.job_id, JOB_SK)
    assert stored.status == "QUEUED" and stored.owner == "alice" and stored.payload == {"x": 1}
    assert stored.expires_at is not None
    assert published == [(job.job_id, 0)]


def test_submit_rejects_unknown_type_and_bad_payload(published):
    with pytest.raises(UnknownJobType) as unknown:
        submit(published, type="nope")
    assert "echo" in unknown.value.detail
    with pytest.raises(InvalidPayload) as invalid:
        submit(published, type="sleep", payload={"seconds": -1})
    assert "payload.seconds" in invalid.value.errors
    assert published == []


def test_claim_is_exclusive(published):
    job = submit(published)
    first = services.job_claim(job_id=job.job_id, worker="w1")
    second = services.job_claim(job_id=job.job_id, worker="w2")
    assert isinstance(first, services.Claim)
    assert second.outcome == "busy"
    assert Job.get(job.job_id, JOB_SK).attempts == 1


def test_claim_of_finished_or_missing_job_is_refused(published):
    job = submit(published)
    assert job_execute(job_id=job.job_id, worker="w1") == "completed"
    assert services.job_claim(job_id=job.job_id, worker="w2").outcome == "final"
    assert services.job_claim(job_id="00000000-0000-4000-8000-000000000000", worker="w2").outcome == "missing"


def test_expired_lease_can_be_taken_over_and_the_old_owner_is_fenced_out(published, settings):
    job = submit(published)
    old = services.job_claim(job_id=job.job_id, worker="dead")
    Job(job.job_id).update(actions=[Job.lease_expires_at.set(int(time.time()) - 1)])
    new = services.job_claim(job_id=job.job_id, worker="alive")
    assert isinstance(new, services.Claim)
    with pytest.raises(services.LeaseLost):
        services.job_complete(claim=old, result={"late": True})
    services.job_complete(claim=new, result={"ok": True})
    stored = Job.get(job.job_id, JOB_SK)
    assert stored.status == "COMPLETED" and stored.result == {"ok": True} and stored.attempts == 2


def test_transient_error_requeues_with_backoff_then_fails_at_max_attempts(published, settings):
    job = submit(published, type="flaky", payload={"failures": 5})
    outcomes = []
    for attempt in range(1, 4):
        before = time.time()
        outcomes.append(job_execute(job_id=job.job_id, worker="w"))
        stored = Job.get(job.job_id, JOB_SK)
        if attempt < 3:
            # The record agrees with the retry's message: QUEUED, the attempt counted, due when the SQS delay ends.
            delay = published[-1][1]
            ceiling = min(settings.BATCHLAB_RETRY_MAX_SECONDS, max(1, int(settings.BATCHLAB_RETRY_BASE_SECONDS)) * 2 ** (attempt - 1))
            assert stored.status == "QUEUED" and int(stored.attempts) == attempt and 0 <= delay <= ceiling
            assert int(before) + delay <= int(stored.available_at) <= int(time.time()) + delay + 1
    assert outcomes == ["retrying", "retrying", "failed"]
    assert stored.status == "FAILED" and stored.error["code"] == "max_attempts_exceeded"
    assert len(published) == 3  # the submission and two retries


def test_cancel_queued_job_then_its_message_is_skipped(published):
    job = submit(published)
    services.job_cancel(job_id=job.job_id, owner="alice", actor="alice")
    assert Job.get(job.job_id, JOB_SK).status == "CANCELED"
    assert job_execute(job_id=job.job_id, worker="w") == "final"


def test_cancel_processing_job_sets_the_request_and_final_job_conflicts(published):
    job = submit(published)
    claim = services.job_claim(job_id=job.job_id, worker="w")
    services.job_cancel(job_id=job.job_id, owner=None, actor="staff")
    assert Job.get(job.job_id, JOB_SK).cancel_requested is True
    services.job_heartbeat(claim=claim)
    assert claim.job.cancel_requested is True
    services.job_mark_canceled(claim=claim)
    with pytest.raises(JobStateConflict):
        services.job_cancel(job_id=job.job_id, owner=None, actor="staff")


@pytest.mark.parametrize("moved_to", ["PROCESSING", "QUEUED"])
def test_a_cancel_whose_job_moves_between_its_read_and_its_write_reads_it_again(published, monkeypatch, moved_to):
    """A worker claims the job after the cancel read it QUEUED, or a claimed job goes back to QUEUED for a
    retry after the cancel read it PROCESSING: the write is refused, and the cancel is decided again on a
    fresh read instead of answering 409 job_state_conflict (seen on fresh-clone runs of the e2e tests)."""
    import jobs.services.actions as actions

    job = submit(published)
    claim = None
    if moved_to == "QUEUED":
        claim = services.job_claim(job_id=job.job_id, worker="w")
    stale = Job.get(job.job_id, JOB_SK, consistent_read=True)  # what the cancel reads first
    if moved_to == "PROCESSING":
        services.job_claim(job_id=job.job_id, worker="w")  # ... then a worker claims it
    else:
        services.job_retry_later(claim=claim, code="transient_error", message="again", delay=0)  # ... then goes back to QUEUED
    reads = []

    def read(**kw):
        reads.append(kw["job_id"])
        return stale if len(reads) == 1 else real(**kw)

    real = actions.job_get_visible
    monkeypatch.setattr(actions, "job_get_visible", read)
    services.job_cancel(job_id=job.job_id, owner="alice", actor="alice")
    stored = Job.get(job.job_id, JOB_SK, consistent_read=True)
    assert len(reads) == 2
    if moved_to == "PROCESSING":
        assert stored.status == "PROCESSING" and stored.cancel_requested is True
    else:
        assert stored.status == "CANCELED"


def test_other_users_job_is_not_found(published):
    job = submit(published, owner="alice")
    with pytest.raises(JobNotFound):
        services.job_cancel(job_id=job.job_id, owner="bob", actor="bob")


def test_retry_requeues_failed_job_keeping_its_timeline(published):
    job = submit(published, type="fail", payload={"message": "no"})
    assert job_execute(job_id=job.job_id, worker="w") == "failed"
    services.job_retry(job_id=job.job_id, owner="alice", actor="alice")
    stored = Job.get(job.job_id, JOB_SK)
    assert stored.status == "QUEUED" and stored.error is None
    assert [e.event for e in stored.timeline] == ["submitted", "claimed", "failed", "retried"]
    with pytest.raises(JobStateConflict):
        services.job_retry(job_id=job.job_id, owner="alice", actor="alice")


def test_idempotency_key_returns_the_same_job_and_refuses_another_body(published):
    first, created = services.job_submit(owner="alice", name="n", type="echo", payload={"a": 1}, idempotency_key="k1")
    again, created_again = services.job_submit(owner="alice", name="n", type="echo", payload={"a": 1}, idempotency_key="k1")
    assert created and not created_again and again.job_id == first.job_id
    with pytest.raises(IdempotencyKeyReused):
        services.job_submit(owner="alice", name="n", type="echo", payload={"a": 2}, idempotency_key="k1")
    other, created_other = services.job_submit(owner="bob", name="n", type="echo", payload={"a": 1}, idempotency_key="k1")
    assert created_other and other.job_id != first.job_id
    assert len(published) == 2


def test_recovery_republishes_stale_queued_and_requeues_expired_leases(published):
    stale = submit(published)
    Job(stale.job_id).update(actions=[Job.available_at.set(int(time.time()) - 1000)])
    running = submit(published)
    services.job_claim(job_id=running.job_id, worker="dead")
    Job(running.job_id).update(actions=[Job.lease_expires_at.set(int(time.time()) - 1)])
    published.clear()
    report = services.jobs_recover(stale_queued_seconds=60)
    assert report.republished == [stale.job_id]
    assert report.requeued == [running.job_id]
    assert sorted(j for j, _ in published) == sorted([stale.job_id, running.job_id])
    assert Job.get(running.job_id, JOB_SK).status == "QUEUED"
    # A second pass finds nothing left to do.
    assert services.jobs_recover(stale_queued_seconds=60).as_dict() == {
        "republished": [], "requeued": [], "failed": [], "dead_lettered": [],
        "chunks_requeued": [], "chunks_republished": [], "chunks_ended": [], "items_ended": [],
        "workflow_steps_told": [], "workflow_plans": [], "webhook_events": [], "webhook_deliveries": [], "errors": [],
    }


def test_recovery_fails_an_expired_lease_with_no_attempts_left(published, settings):
    job = submit(published)
    Job(job.job_id).update(actions=[Job.max_attempts.set(1)])
    services.job_claim(job_id=job.job_id, worker="dead")
    Job(job.job_id).update(actions=[Job.lease_expires_at.set(int(time.time()) - 1)])
    report = services.jobs_recover()
    assert report.failed == [job.job_id]
    assert Job.get(job.job_id, JOB_SK).error["code"] == "worker_lost"


def test_bad_handler_output_fails_the_job_instead_of_crashing(published, monkeypatch):
    from jobs.handlers import registry

    job = submit(published)
    original = registry._REGISTRY["echo"]
    monkeypatch.setitem(registry._REGISTRY, "echo", registry.JobType(
        name="echo", handler=lambda payload, ctx: {"when": object()}, payload_serializer=None))
    assert job_execute(job_id=job.job_id, worker="w") == "failed"
    assert Job.get(job.job_id, JOB_SK).error["code"] == "result_not_serializable"
    monkeypatch.setitem(registry._REGISTRY, "echo", original)
