"""A step's end through the real writers (claim, complete, fail, give up, cancel) and the effects hook: races, lost answers, duplicates."""

import pytest
from pynamodb.exceptions import PynamoDBConnectionError

from jobs import services
from jobs.services import publishing
from jobs.services.jobs import effects as job_effects
from jobs.services.lease import claim as lease_claim
from jobs.services.lease.outcome import Outcome
from jobs.states import JobStatus, WorkflowStatus
from jobs.tables import JOB_SK, Job
from tests.jobs.workflow_helpers import end, job_of, statuses, submit, workflow_status

pytestmark = pytest.mark.usefixtures("aws")

FAN_IN = {"name": "fan-in", "steps": {
    **{f"p{i}": {"type": "echo", "payload": {"n": i}} for i in range(4)},
    "sink": {"type": "collect", "needs": [f"p{i}" for i in range(4)]},
}}


@pytest.fixture
def sent(monkeypatch):
    """The job ids published (steps ten to a batch; a job alone)."""
    ids = []
    monkeypatch.setattr(publishing, "tasks_publish", lambda *, messages, **route: ids.extend(m[2] for m in messages))
    monkeypatch.setattr(publishing, "job_publish", lambda *, job_id, **route: ids.append(job_id))
    return ids


def claimed(workflow_id: str, name: str, worker: str = "w1") -> services.Claim:
    claim = services.job_claim(job_id=job_of(workflow_id, name).job_id, worker=worker)
    assert isinstance(claim, services.Claim), claim
    return claim


def interleaved(monkeypatch, before_write):
    """Each time a writer asks the hook (not contended), `before_write` runs between the reads and the write."""
    real = job_effects.transition_effects
    asked = []

    def asking(**kw):
        effects = real(**kw)
        asked.append(kw["contended"])
        if not kw["contended"]:
            before_write(len(asked))
        return effects

    monkeypatch.setattr(job_effects, "transition_effects", asking)
    return asked


def test_a_parent_whose_read_of_a_shared_child_went_stale_asks_again_and_the_child_is_released_once(sent, monkeypatch):
    wf = submit(FAN_IN)
    wid = wf.workflow_id
    for name in ("p0", "p1"):
        end(wid, name)
    last = claimed(wid, "p3")
    # p3's end read sink's counter (2 parents left); p2 ends before p3's write lands: p3's
    # "down by one" is refused by sink's condition, and p3 must read again and release it.
    asked = interleaved(monkeypatch, lambda n: end(wid, "p2") if n == 1 else None)
    services.job_complete(claim=last, result={"n": 3})
    assert asked == [False, False]  # asked twice, not contended
    sink = job_of(wid, "sink")
    assert sink.status == JobStatus.QUEUED and int(sink.pending_parents) == 0
    assert [entry.event for entry in sink.timeline].count("released") == 1
    assert sent.count(sink.job_id) == 1
    assert job_of(wid, "p3").status == JobStatus.COMPLETED


def test_a_parent_refused_on_every_try_writes_its_cursor_and_its_links_tell_the_child(sent, monkeypatch):
    monkeypatch.setattr(job_effects, "EFFECTS_TRIES", 3)
    wf = submit(FAN_IN)
    wid = wf.workflow_id
    for name in ("p1", "p2", "p3"):
        end(wid, name)
    first, other = claimed(wid, "p0"), job_of(wid, "p1").job_id
    real = job_effects.transition_effects
    asked = []

    def always_refused(**kw):
        # Every inline try meets an item that moved meanwhile (a condition that never holds).
        effects = real(**kw)
        asked.append(kw["contended"])
        if not kw["contended"]:
            effects.also.append(lambda tx: tx.update(Job(other, JOB_SK), actions=[Job.version.add(1)],
                                                     condition=Job.status == "MOVED", add_version_condition=False))
        return effects

    monkeypatch.setattr(job_effects, "transition_effects", always_refused)
    services.job_complete(claim=first, result={"n": 0})
    assert asked == [False, False, True]  # the last try contended: the cursor alone, then its links
    assert job_of(wid, "p0").status == JobStatus.COMPLETED and job_of(wid, "p0").notify_from is None
    sink = job_of(wid, "sink")
    assert sink.status == JobStatus.QUEUED and int(sink.pending_parents) == 0
    assert [entry.event for entry in sink.timeline].count("released") == 1 and sent.count(sink.job_id) == 1


def test_a_releasing_write_applied_with_its_answer_lost_releases_and_publishes_the_child_once(sent, monkeypatch):
    wf = submit({"name": "pair", "steps": {"a": {"type": "echo"}, "b": {"type": "echo", "needs": ["a"]}}})
    wid = wf.workflow_id
    claim = claimed(wid, "a")
    real = lease_claim.transact_write
    lost = []

    def applied_then_lost(unit, actions, condition, also):
        real(unit, actions, condition, also)
        if not lost:
            lost.append(unit.job_id)
            raise PynamoDBConnectionError("the answer was lost")

    monkeypatch.setattr(lease_claim, "transact_write", applied_then_lost)
    services.job_complete(claim=claim, result={"ok": True})
    assert lost == [claim.job_id]
    b = job_of(wid, "b")
    assert b.status == JobStatus.QUEUED and int(b.pending_parents) == 0
    assert [entry.event for entry in b.timeline].count("released") == 1
    assert sent.count(b.job_id) == 1
    assert job_of(wid, "a").status == JobStatus.COMPLETED


def test_a_duplicated_message_of_a_finished_step_tells_nothing_again(sent):
    wf = submit({"name": "pair", "steps": {"a": {"type": "echo"}, "b": {"type": "echo", "needs": ["a"]}}})
    wid = wf.workflow_id
    a = job_of(wid, "a").job_id
    assert services.job_execute(job_id=a, worker="w1") == Outcome.COMPLETED
    assert services.job_execute(job_id=a, worker="w2") == Outcome.FINAL  # the duplicate
    b = job_of(wid, "b")
    assert sent.count(b.job_id) == 1 and [entry.event for entry in b.timeline].count("released") == 1


def test_a_step_given_up_by_recovery_cancels_its_children_with_dependency_failed(sent):
    wf = submit({"name": "pair", "steps": {"a": {"type": "echo"}, "b": {"type": "echo", "needs": ["a"]}},
                 "on_failure": {"type": "echo"}})
    wid = wf.workflow_id
    assert services.job_give_up(job=job_of(wid, "a"), code="dead_lettered", message="x")
    assert job_of(wid, "b").status == JobStatus.CANCELED
    assert job_of(wid, "b").error.as_dict()["code"] == "dependency_failed"
    assert workflow_status(wid) == WorkflowStatus.FAILED
    assert statuses(wid)["on_failure"] == JobStatus.QUEUED and sent.count(job_of(wid, "on_failure").job_id) == 1


def test_a_queued_step_canceled_by_its_job_id_ends_its_children(sent):
    wf = submit({"name": "pair", "steps": {"a": {"type": "echo"}, "b": {"type": "echo", "needs": ["a"]},
                                          "c": {"type": "echo", "needs": ["a"], "on_parent_failure": "continue"}}})
    wid = wf.workflow_id
    services.job_cancel(job_id=job_of(wid, "a").job_id, owner="alice", actor="alice")
    assert job_of(wid, "b").status == JobStatus.CANCELED and job_of(wid, "c").status == JobStatus.QUEUED


def test_a_steps_own_retry_is_refused_naming_its_workflows_retry(sent):
    from jobs.exceptions import JobStateConflict

    wf = submit({"name": "pair", "steps": {"a": {"type": "echo"}, "b": {"type": "echo", "needs": ["a"]}}})
    wid = wf.workflow_id
    end(wid, "a", JobStatus.FAILED)
    with pytest.raises(JobStateConflict) as refused:
        services.job_retry(job_id=job_of(wid, "a").job_id, owner="alice", actor="alice")
    assert f"/workflows/{wid}/retry" in str(refused.value.detail)
    assert job_of(wid, "a").status == JobStatus.FAILED  # untouched: its child b stays CANCELED with it
