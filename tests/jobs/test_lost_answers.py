"""Lost answers and lost messages: a write applied whose answer was lost must be recognised; recovery must not flood a backlog.

The SDK retries a request whose connection failed after sending it; the retry is
the same request again. Each test replays that: the same write twice, the first
standing for the try whose answer was lost (the fault tests do it over HTTP).
"""

import uuid

import pytest

from jobs import services
from jobs.services.lease import claim as lease_claim
from jobs.services.lease.outcome import Outcome
from jobs.states import RETRY_LATER
from jobs.tables import JOB_SK, Job

pytestmark = pytest.mark.usefixtures("aws")


def queued(published) -> Job:
    job, _ = services.job_submit(owner="alice", name="t", type="echo", payload={"x": 1})
    return job


def test_a_claim_whose_answer_was_lost_is_recognised_by_its_token_not_refused_as_busy(published, monkeypatch):
    job = queued(published)
    token = uuid.UUID(int=7)
    monkeypatch.setattr(lease_claim.uuid, "uuid4", lambda: token)
    services.job_claim(job_id=job.job_id, worker="w1")  # applied; its answer "lost"
    retried = services.job_claim(job_id=job.job_id, worker="w1")
    assert isinstance(retried, services.Claim) and retried.token == token.hex
    assert Job.get(job.job_id, JOB_SK).attempts == 1  # one claim, one attempt


def test_a_claim_by_someone_else_is_still_busy(published):
    job = queued(published)
    services.job_claim(job_id=job.job_id, worker="w1")
    assert services.job_claim(job_id=job.job_id, worker="w2").outcome is Outcome.BUSY


def test_a_completion_whose_answer_was_lost_is_not_lease_lost(published):
    job = queued(published)
    claim = services.job_claim(job_id=job.job_id, worker="w1")
    services.job_complete(claim=claim, result={"n": 1})
    services.job_complete(claim=claim, result={"n": 1})  # the retry: refused, recognised as ours
    stored = Job.get(job.job_id, JOB_SK)
    assert stored.status == "COMPLETED" and [e.event for e in stored.timeline].count("completed") == 1


def test_a_retry_later_whose_answer_was_lost_is_recognised_so_the_retry_is_published(published):
    job = queued(published)
    claim = services.job_claim(job_id=job.job_id, worker="w1")
    lease_claim.fenced_write(claim, RETRY_LATER, [])  # the try that applied, answer lost
    # The retry of the same write is refused by its own condition and recognised by the token:
    # no LeaseLost, so the task goes on to publish the retry's message.
    services.job_retry_later(claim=claim, code="transient_error", message="x", delay=1)
    assert Job.get(job.job_id, JOB_SK).status == "QUEUED"


def test_a_completion_after_a_takeover_is_still_lease_lost(published):
    job = queued(published)
    old = services.job_claim(job_id=job.job_id, worker="old")
    Job(job.job_id).update(actions=[Job.lease_expires_at.set(0)])
    new = services.job_claim(job_id=job.job_id, worker="new")
    services.job_complete(claim=new, result={})
    with pytest.raises(services.LeaseLost):
        services.job_complete(claim=old, result={})


def test_a_submission_whose_putitem_answer_was_lost_is_stored_and_published_not_503(published, monkeypatch):
    real_save = Job.save

    def applied_then_retried(self, *args, **kwargs):
        real_save(self, *args, **kwargs)  # applied; its answer lost
        return real_save(self, *args, **kwargs)  # the SDK's retry, refused by its own condition

    monkeypatch.setattr(Job, "save", applied_then_retried)
    job, created = services.job_submit(owner="alice", name="t", type="echo", payload={"x": 1})
    assert created and [job_id for job_id, *_ in published] == [job.job_id]
    assert Job.get(job.job_id, JOB_SK).status == "QUEUED"


def _waited(job: Job, seconds: int) -> None:
    import time

    Job(job.job_id, JOB_SK).update(actions=[Job.available_at.set(int(time.time()) - seconds)])


def test_recovery_waits_twice_as_long_behind_a_backlog_but_never_pauses(published):
    from jobs import queues

    job = queued(published)
    client = queues.sqs_client()
    url = client.get_queue_url(QueueName=queues.queue_name())["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="a message waiting in a backlog")
    published.clear()
    _waited(job, 100)
    assert services.jobs_recover(stale_queued_seconds=60).republished == []  # it may just be waiting behind the backlog
    _waited(job, 130)
    # Twice the threshold behind the same backlog: published again (before, nothing was while any message waited).
    assert services.jobs_recover(stale_queued_seconds=60).republished == [job.job_id]
    _waited(job, 130)
    # Its next copy waits twice as long again: 60 s x 2^(1 + 1) behind a backlog.
    assert services.jobs_recover(stale_queued_seconds=60).republished == []
    client.purge_queue(QueueUrl=url)
    assert services.jobs_recover(stale_queued_seconds=60).republished == [job.job_id]  # drained: 130 > 60 x 2^1
