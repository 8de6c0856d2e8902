"""Releases on moto in-process: a step waits for every parent, the last parent's write releases it once, failures cascade."""

import pytest

from jobs.services import publishing
from jobs.states import JobStatus, WorkflowStatus
from jobs.services.workflows.actions import workflow_retry
from jobs.services.workflows.recovery import workflows_recover
from tests.jobs.workflow_helpers import end, job_of, statuses, submit, workflow_status

pytestmark = pytest.mark.usefixtures("aws")

DIAMOND = {"name": "diamond", "steps": {
    "a": {"type": "echo", "payload": {"n": 1}},
    "b": {"type": "echo", "needs": ["a"]},
    "c": {"type": "echo", "needs": ["a"]},
    "d": {"type": "echo", "needs": ["b", "c"]},
}}


@pytest.fixture
def sent(monkeypatch):
    """The job ids published (ten to a batch, as steps are)."""
    ids = []
    monkeypatch.setattr(publishing, "tasks_publish", lambda *, messages, **route: ids.extend(m[2] for m in messages))
    return ids


def test_a_diamond_releases_each_step_once_after_all_its_parents(sent):
    wf = submit(DIAMOND)
    assert workflow_status(wf.workflow_id) == WorkflowStatus.RUNNING
    assert statuses(wf.workflow_id) == {"a": "QUEUED", "b": "WAITING", "c": "WAITING", "d": "WAITING"}
    assert sent == [job_of(wf.workflow_id, "a").job_id]
    end(wf.workflow_id, "a")
    assert statuses(wf.workflow_id) == {"a": "COMPLETED", "b": "QUEUED", "c": "QUEUED", "d": "WAITING"}
    end(wf.workflow_id, "b")
    assert job_of(wf.workflow_id, "d").status == JobStatus.WAITING
    assert int(job_of(wf.workflow_id, "d").pending_parents) == 1
    end(wf.workflow_id, "c")
    assert job_of(wf.workflow_id, "d").status == JobStatus.QUEUED
    end(wf.workflow_id, "d")
    assert workflow_status(wf.workflow_id) == WorkflowStatus.COMPLETED
    ids = {n: job_of(wf.workflow_id, n).job_id for n in "abcd"}
    assert sorted(sent) == sorted(ids.values())  # each published once


def test_a_failed_parent_cancels_its_subtree_with_dependency_failed_and_the_workflow_fails(sent):
    body = {"name": "chain", "steps": {"a": {"type": "echo"}, "b": {"type": "echo", "needs": ["a"]},
                                       "c": {"type": "echo", "needs": ["b"]}},
            "on_failure": {"type": "echo"}, "on_success": {"type": "echo"}, "on_complete": {"type": "echo"}}
    wf = submit(body)
    end(wf.workflow_id, "a", JobStatus.FAILED)
    got = statuses(wf.workflow_id)
    assert got["b"] == got["c"] == JobStatus.CANCELED
    assert job_of(wf.workflow_id, "b").error.as_dict()["code"] == "dependency_failed"
    assert job_of(wf.workflow_id, "c").error.as_dict()["code"] == "dependency_failed"
    assert workflow_status(wf.workflow_id) == WorkflowStatus.FAILED
    assert got["on_failure"] == got["on_complete"] == JobStatus.QUEUED
    assert got["on_success"] == JobStatus.CANCELED


def test_continue_runs_the_child_after_a_failed_parent(sent):
    body = {"name": "c", "steps": {"a": {"type": "echo"}, "b": {"type": "echo"},
                                   "d": {"type": "echo", "needs": ["a", "b"], "on_parent_failure": "continue"}}}
    wf = submit(body)
    end(wf.workflow_id, "a", JobStatus.FAILED)
    end(wf.workflow_id, "b")
    assert job_of(wf.workflow_id, "d").status == JobStatus.QUEUED
    end(wf.workflow_id, "d")
    assert workflow_status(wf.workflow_id) == WorkflowStatus.FAILED  # a step failed for good


def test_a_fan_out_wider_than_one_transaction_releases_every_child_in_links(sent):
    steps = {"root": {"type": "echo"}, **{f"s{i}": {"type": "echo", "needs": ["root"]} for i in range(150)}}
    wf = submit({"name": "wide", "steps": steps})
    carried = end(wf.workflow_id, "root")
    assert len(carried.also) == 90  # the first 90 in the root's own transaction, the rest in links
    got = statuses(wf.workflow_id)
    assert sum(1 for s in got.values() if s == JobStatus.QUEUED) == 150
    assert job_of(wf.workflow_id, "root").notify_from is None  # its cursor is gone: every child told
    assert len(sent) == len(set(sent)) == 151


def test_recovery_tells_the_rest_of_an_end_whose_worker_died_after_its_write(sent):
    steps = {"root": {"type": "echo"}, **{f"s{i}": {"type": "echo", "needs": ["root"]} for i in range(120)}}
    wf = submit({"name": "wide", "steps": steps})
    end(wf.workflow_id, "root", commit=False)  # its write applied, then the process died
    got = statuses(wf.workflow_id)
    assert sum(1 for s in got.values() if s == JobStatus.QUEUED) == 90
    assert int(job_of(wf.workflow_id, "root").notify_from) == 90
    report = workflows_recover(stale_seconds=-1)
    assert report.steps_told == [job_of(wf.workflow_id, "root").job_id]
    assert sum(1 for s in statuses(wf.workflow_id).values() if s == JobStatus.QUEUED) == 120
    assert workflows_recover(stale_seconds=-1).steps_told == []  # nothing left: the cursor is gone
    assert len(set(sent)) == len(sent)  # the 90 released by the write itself were published by nobody (its process died)
    assert len(sent) == 1 + 30


def test_a_retry_runs_again_what_failed_and_below_it_and_nothing_else(sent):
    body = {"name": "r", "steps": {"a": {"type": "echo"}, "b": {"type": "echo", "needs": ["a"]},
                                   "c": {"type": "echo", "needs": ["a"]}, "d": {"type": "echo", "needs": ["b", "c"]}},
            "on_failure": {"type": "echo"}, "on_success": {"type": "echo"}}
    wf = submit(body)
    end(wf.workflow_id, "a")
    end(wf.workflow_id, "b", JobStatus.FAILED)
    end(wf.workflow_id, "c")
    assert workflow_status(wf.workflow_id) == WorkflowStatus.FAILED
    end(wf.workflow_id, "on_failure")
    a_result = job_of(wf.workflow_id, "a").result
    workflow_retry(workflow_id=wf.workflow_id, owner="alice", actor="alice")
    got = statuses(wf.workflow_id)
    assert got == {"a": "COMPLETED", "b": "QUEUED", "c": "COMPLETED", "d": "WAITING", "on_failure": "WAITING",
                   "on_success": "WAITING"}
    assert int(job_of(wf.workflow_id, "d").pending_parents) == 1  # only b runs again above it
    assert job_of(wf.workflow_id, "a").result == a_result
    end(wf.workflow_id, "b")
    end(wf.workflow_id, "d")
    assert workflow_status(wf.workflow_id) == WorkflowStatus.COMPLETED
    got = statuses(wf.workflow_id)
    assert got["on_success"] == JobStatus.QUEUED and got["on_failure"] == JobStatus.CANCELED


def test_the_runner_releases_children_and_hands_a_collect_its_parents_results(sent):
    from tests.jobs.workflow_helpers import run_published

    body = {"name": "d", "steps": {"a": {"type": "echo", "payload": {"n": 1}}, "b": {"type": "echo", "payload": {"n": 2},
            "needs": ["a"]}, "c": {"type": "echo", "payload": {"n": 3}, "needs": ["a"]},
            "d": {"type": "collect", "needs": ["b", "c"]}}, "on_complete": {"type": "collect"}}
    wf = submit(body)
    assert run_published(sent) == ["completed"] * 5
    d = job_of(wf.workflow_id, "d").result
    assert {k: v["result"] for k, v in d["parents"].items()} == {"b": {"n": 2}, "c": {"n": 3}}
    everything = job_of(wf.workflow_id, "on_complete").result
    assert sorted(everything["parents"]) == ["a", "b", "c", "d"] and everything["parents"]["d"]["status"] == "COMPLETED"
    assert workflow_status(wf.workflow_id) == WorkflowStatus.COMPLETED


def test_a_cancel_stops_queued_steps_at_once_marks_waiting_ones_and_runs_no_callback(sent):
    from jobs.services.workflows.actions import workflow_cancel
    from tests.jobs.workflow_helpers import run_published

    body = {"name": "c", "steps": {"a": {"type": "echo"}, "b": {"type": "echo"}, "c": {"type": "echo", "needs": ["a", "b"]},
                                   "e": {"type": "echo", "needs": ["c"]}}, "on_complete": {"type": "echo"}}
    wf = submit(body)
    end(wf.workflow_id, "a")  # a ended before the cancel; b is still QUEUED
    sent.clear()
    header = workflow_cancel(workflow_id=wf.workflow_id, owner="alice", actor="alice")
    assert header.canceled_at is not None and header.cancel_requested
    got = statuses(wf.workflow_id)
    assert got == {"a": "COMPLETED", "b": "CANCELED", "c": "CANCELED", "e": "CANCELED", "on_complete": "CANCELED"}
    assert workflow_status(wf.workflow_id) == WorkflowStatus.CANCELED
    assert run_published(sent) == []  # nothing was released
    assert job_of(wf.workflow_id, "c").started_at is None
