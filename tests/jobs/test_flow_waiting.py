"""A paused type's jobs wait: recorded once, sent again later with no attempt used, woken by resume; others run as before."""

import pytest

from jobs import selectors, services
from jobs.flow import flow_hints
from jobs.services.flow.limiter import type_scope
from jobs.tables import JOB_SK, WAITER_PREFIX, Job, Waiter

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws", "fresh_type_settings")]


@pytest.fixture
def sent(monkeypatch):
    """Every job_publish as (job id, delay, priority, flow)."""
    from jobs.services import publishing

    out = []
    monkeypatch.setattr(publishing, "job_publish", lambda *, job_id, countdown=0, delay_seconds=0, priority=None, flow=None:
                        out.append((job_id, delay_seconds, priority, flow)))
    return out


def submit(sent, type="echo", **kw):
    job, _ = services.job_submit(owner="alice", name="n", type=type, payload={"seconds": 0} if type == "sleep" else {}, **kw)
    assert sent[-1][0] == job.job_id
    return job, sent[-1][3]


def waiters() -> list:
    return list(Waiter.query(type_scope("echo"), Waiter.sk.startswith(WAITER_PREFIX)))


def test_every_message_carries_its_jobs_flow_hints_to_its_priority_queue(sent):
    job, flow = submit(sent, priority="high", concurrency_key="acme")
    assert flow == {"type": "echo", "key": "acme", "priority": "high"} == flow_hints(job)
    assert sent[-1][2] == "high"
    _, mine = submit(sent)
    assert mine["key"] == "user:alice" and mine["priority"] == "normal"  # keyed by the submitting user by default


def test_a_paused_types_job_waits_without_an_attempt_and_resume_wakes_it(sent):
    job, flow = submit(sent)
    services.type_pause(type="echo", actor="root")
    assert services.job_execute(job_id=job.job_id, worker="w", flow=flow) == "waiting"
    stored = Job.get(job.job_id, JOB_SK)
    assert (stored.status, stored.waiting_for, int(stored.attempts)) == ("QUEUED", "paused", 0)
    assert stored.timeline[-1].event == "waiting" and "paused" in stored.timeline[-1].message
    _, delay, priority, again = sent[-1]
    assert delay >= 1 and priority == "normal" and again["reason"] == "paused" and again["waits"] == 1
    assert len(waiters()) == 1
    # It comes back, still paused: no second write to the job, no second waiter.
    version = int(stored.version)
    assert services.job_execute(job_id=job.job_id, worker="w", flow=again) == "waiting"
    assert int(Job.get(job.job_id, JOB_SK).version) == version and len(waiters()) == 1
    assert sent[-1][3]["waits"] == 2 and sent[-1][1] >= sent[-2][1]
    # Resume publishes it at once (its delayed message is only a fallback) and it runs.
    services.type_resume(type="echo", actor="root")
    woken = sent[-1]
    assert woken[0] == job.job_id and woken[1] == 0 and woken[3]["waiter"] is None and waiters() == []
    assert services.job_execute(job_id=job.job_id, worker="w", flow=woken[3]) == "completed"
    done = Job.get(job.job_id, JOB_SK)
    assert done.status == "COMPLETED" and done.waiting_for is None and int(done.attempts) == 1
    # The fallback message comes back later: the job is final, nothing runs twice.
    assert services.job_execute(job_id=job.job_id, worker="w", flow=sent[-2][3]) == "final"


def test_other_types_run_while_one_is_paused(sent):
    services.type_pause(type="echo", actor="root")
    other, flow = submit(sent, type="sleep")
    assert services.job_execute(job_id=other.job_id, worker="w", flow=flow) == "completed"


def test_a_canceled_waiting_job_is_not_sent_again(sent):
    job, flow = submit(sent)
    services.type_pause(type="echo", actor="root")
    services.job_cancel(job_id=job.job_id, owner="alice", actor="alice")
    count = len(sent)
    assert services.job_execute(job_id=job.job_id, worker="w", flow=flow) == "final"
    assert len(sent) == count  # no longer waiting: nothing published


def test_a_message_from_before_flow_hints_is_read_when_a_type_has_settings(sent):
    job, _ = submit(sent)
    services.type_pause(type="echo", actor="root")
    assert services.job_execute(job_id=job.job_id, worker="w", flow=None) == "waiting"
    assert sent[-1][3]["type"] == "echo"


def test_a_waiting_job_canceled_no_longer_waits_nor_counts_as_waiting(sent):
    job, flow = submit(sent)
    services.type_pause(type="echo", actor="root")
    assert services.job_execute(job_id=job.job_id, worker="w", flow=flow) == "waiting"
    assert selectors.flow_unit_counts()["waiting"] == {("echo", "paused"): 1}
    services.job_cancel(job_id=job.job_id, owner="alice", actor="alice")
    stored = Job.get(job.job_id, JOB_SK)
    assert stored.status == "CANCELED" and stored.waiting_for is None and stored.waiting_since is None
    assert list(Job.waiting_index.query("paused")) == [] and selectors.flow_unit_counts()["waiting"] == {}
    services.job_retry(job_id=job.job_id, owner="alice", actor="alice")  # queued again: not shown as waiting
    assert Job.get(job.job_id, JOB_SK).waiting_for is None


def test_waiting_chunks_count_in_the_metrics_by_their_jobs_type_until_they_are_claimed(monkeypatch):
    from jobs.services import publishing
    from jobs.services.items.submission import items_inline
    from jobs.tables import Chunk, chunk_sk

    chunks = []
    monkeypatch.setattr(publishing, "chunks_publish", lambda *, job_id, numbers, flow=None, **kw:
                        chunks.extend((job_id, n, flow) for n in numbers) or 0)
    job, _ = services.job_submit_items(owner="alice", name="n", type="checksum", payload={}, chunk_size=2,
                                       source=items_inline(type="checksum", values=["a", "b", "c", "d", "e"]))
    first = list(chunks)
    assert [n for _, n, _ in first] == [1, 2, 3]
    services.type_pause(type="checksum", actor="root")
    for job_id, number, flow in first:
        assert services.chunk_execute(job_id=job_id, number=number, worker="w", flow=flow) == "waiting"
    assert selectors.flow_unit_counts()["waiting"] == {("checksum", "paused"): 3}
    services.type_resume(type="checksum", actor="root")
    again = chunks[len(first):]
    latest = {n: flow for _, n, flow in again}
    assert services.chunk_execute(job_id=job.job_id, number=1, worker="w", flow=latest[1]) == "completed"
    assert Chunk.get(job.job_id, chunk_sk(1)).waiting_since is None
    assert selectors.flow_unit_counts()["waiting"] == {("checksum", "paused"): 2}  # the claimed one left the index
