"""Lost answers and lost messages: a write applied whose answer was lost must be recognised; recovery must not flood a backlog.

The SDK retries a request whose connection failed after sending it; the retry is
the same request again. Each test replays that: the same write twice, the first
standing for the try whose answer was lost (the fault tests do it over HTTP).
"""

import uuid

import pytest

from jobs import services
from jobs.services.jobs import transitions as execution
from jobs.tables import JOB_SK, Job

pytestmark = pytest.mark.usefixtures("aws")


def queued(published) -> Job:
    job, _ = services.job_submit(owner="alice", name="t", type="echo", payload={"x": 1})
    return job


def test_a_claim_whose_answer_was_lost_is_recognised_by_its_token_not_refused_as_busy(published, monkeypatch):
    job = queued(published)
    token = uuid.UUID(int=7)
    monkeypatch.setattr(execution.uuid, "uuid4", lambda: token)
    services.job_claim(job_id=job.job_id, worker="w1")  # applied; its answer "lost"
    retried = services.job_claim(job_id=job.job_id, worker="w1")
    assert isinstance(retried, services.Claim) and retried.token == token.hex
    assert Job.get(job.job_id, JOB_SK).attempts == 1  # one claim, one attempt


def test_a_claim_by_someone_else_is_still_busy(published):
    job = queued(published)
    services.job_claim(job_id=job.job_id, worker="w1")
    assert services.job_claim(job_id=job.job_id, worker="w2") == "busy"


def test_a_completion_whose_answer_was_lost_is_not_lease_lost(published):
    job = queued(published)
    claim = services.job_claim(job_id=job.job_id, worker="w1")
    services.job_complete(claim=claim, result={"n": 1})
    services.job_complete(claim=claim, result={"n": 1})  # the retry: refused, recognised as ours
    stored = Job.get(job.job_id, JOB_SK)
    assert stored.status == "COMPLETED" and [e.event for e in stored.timeline].count("completed") == 1


def test_a_retry_later_whose_answer_was_lost_still_publishes_the_job(published):
    job = queued(published)
    claim = services.job_claim(job_id=job.job_id, worker="w1")
    execution.fenced_update(claim, execution.RETRY_LATER, [])  # the try that applied, answer lost
    published.clear()
    services.job_retry_later(claim=claim, code="transient_error", message="x")
    assert [job_id for job_id, _ in published] == [job.job_id]  # before: LeaseLost and no message at all
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


def test_recovery_leaves_stale_queued_jobs_alone_while_messages_wait_in_the_queue(published):
    from jobs import queues

    job = queued(published)
    client = queues.sqs_client()
    url = client.get_queue_url(QueueName=queues.queue_name())["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="a message waiting in a backlog")
    published.clear()
    assert services.jobs_recover(stale_queued_seconds=-10).republished == []  # it may just be waiting
    client.purge_queue(QueueUrl=url)
    assert services.jobs_recover(stale_queued_seconds=-10).republished == [job.job_id]  # drained: now it is lost
