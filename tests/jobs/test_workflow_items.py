"""Item steps on moto in-process: an item job as a workflow step — its chunks written at the submission and published
only at its release, its end releasing its children, its items seeing `ctx.parents`, its counts in its children's."""

import pytest

from jobs import services
from jobs.services import publishing
from jobs.services.lease.outcome import Outcome
from jobs.services.recovery.sweep import jobs_recover
from jobs.states import JobStatus, WorkflowStatus
from jobs.tables import CHUNK_SK_PREFIX, Chunk, Job
from jobs.exceptions import InvalidWorkflow
from tests.jobs.workflow_helpers import job_of, statuses, submit, workflow_status

pytestmark = pytest.mark.usefixtures("aws")

SCORED = {"name": "scored", "steps": {
    "extract": {"type": "echo", "payload": {"source": "s3://x"}},
    "score": {"type": "probe", "items": [{"v": "a", "parents": True}, {"v": "b"}, {"v": "c"}, {"v": "d"}, {"v": "e"}],
              "chunk_size": 2, "needs": ["extract"]},
    "report": {"type": "collect", "needs": ["extract", "score"]},
}}


@pytest.fixture
def sent(monkeypatch):
    """Job ids and (job id, chunk number) published, in order."""
    out = []
    monkeypatch.setattr(publishing, "tasks_publish", lambda *, messages, **route: out.extend(m[2] for m in messages))
    monkeypatch.setattr(publishing, "chunks_publish",
                        lambda *, job_id, numbers, **route: out.extend((job_id, n) for n in numbers) or 0)
    return out


def run_all(sent: list) -> list:
    outcomes = []
    while sent:
        message = sent.pop(0)
        if isinstance(message, tuple):
            outcomes.append(services.chunk_execute(job_id=message[0], number=message[1], worker="w"))
        else:
            outcomes.append(services.job_execute(job_id=message, worker="w"))
    return outcomes


def chunks_of(job_id: str) -> list[Chunk]:
    return list(Chunk.query(job_id, Chunk.sk.startswith(CHUNK_SK_PREFIX), consistent_read=True))


def test_an_item_step_waits_with_its_chunks_unpublished_then_runs_and_releases_its_child(sent):
    wf = submit(SCORED)
    score = job_of(wf.workflow_id, "score")
    assert score.status == JobStatus.WAITING and int(score.items_total) == 5 and int(score.chunks_total) == 3
    assert [c.chunk_status for c in chunks_of(score.job_id)] == ["PENDING"] * 3
    assert sent == [job_of(wf.workflow_id, "extract").job_id]  # nothing of the item step goes out before its release
    assert "5 items in 3 chunks" in score.timeline[0].message

    outcomes = run_all(sent)
    assert workflow_status(wf.workflow_id) == WorkflowStatus.COMPLETED, statuses(wf.workflow_id)
    assert outcomes.count(Outcome.COMPLETED) == 2 + 3, outcomes  # extract, report, and the three chunks
    score = job_of(wf.workflow_id, "score")
    assert score.status == JobStatus.COMPLETED and int(score.items_succeeded) == 5
    # Its child saw its counts and where its results are.
    report = job_of(wf.workflow_id, "report")
    parents = report.result["parents"]
    assert parents["score"]["items"] == {"total": 5, "succeeded": 5, "failed": 0, "skipped": 0}
    assert parents["score"]["results"] == f"/jobs/{score.job_id}/results"
    assert parents["extract"]["status"] == JobStatus.COMPLETED


def test_an_item_steps_items_see_its_parents(sent):
    wf = submit(SCORED)
    run_all(sent)
    score = job_of(wf.workflow_id, "score")
    chunk = chunks_of(score.job_id)[0]
    assert chunk.outcomes[0]["r"]["parents"] == {"extract": JobStatus.COMPLETED}


def test_a_failed_parent_cancels_the_item_step_and_no_chunk_ever_goes_out(sent):
    body = {"name": "doomed", "steps": {"a": {"type": "fail"}, "items": {"type": "probe", "items": ["x", "y"], "needs": ["a"]}}}
    wf = submit(body)
    run_all(sent)
    assert workflow_status(wf.workflow_id) == WorkflowStatus.FAILED
    step = job_of(wf.workflow_id, "items")
    assert step.status == JobStatus.CANCELED and step.error.code == "dependency_failed"
    assert all(c.chunk_status == "PENDING" for c in chunks_of(step.job_id))
    assert sent == []
    jobs_recover(stale_queued_seconds=0)  # a canceled step's chunks are never published by recovery either
    assert sent == []


def test_a_released_item_step_whose_chunks_were_not_published_is_published_by_recovery_after_the_threshold(sent, monkeypatch):
    wf = submit(SCORED)
    extract = sent.pop(0)
    monkeypatch.setattr(publishing, "chunks_publish", lambda **kw: (_ for _ in ()).throw(publishing.QueueUnavailable()))
    services.job_execute(job_id=extract, worker="w")  # releases score; its publish is lost
    score = job_of(wf.workflow_id, "score")
    assert score.status == JobStatus.QUEUED and sent == []
    monkeypatch.setattr(publishing, "chunks_publish",
                        lambda *, job_id, numbers, **route: sent.extend((job_id, n) for n in numbers) or 0)
    # Its chunks were written at the submission: their due time is the release, not that (nothing republished early).
    Chunk(score.job_id, chunks_of(score.job_id)[0].sk).update(actions=[Chunk.available_at.set(0)])
    jobs_recover(stale_queued_seconds=60)
    assert sent == []
    jobs_recover(stale_queued_seconds=0)
    assert sorted(n for _, n in sent) == [1, 2, 3]
    run_all(sent)
    assert workflow_status(wf.workflow_id) == WorkflowStatus.COMPLETED


def test_a_bad_item_is_refused_under_its_steps_name_and_nothing_is_written(sent):
    body = {"name": "bad", "steps": {"ok": {"type": "echo"},
                                     "sums": {"type": "checksum", "items": ["fine", {"no": "strings"}, 3], "needs": ["ok"]}}}
    with pytest.raises(InvalidWorkflow) as refused:
        submit(body)
    assert list(refused.value.errors) == ["steps.sums.items"], refused.value.errors
    assert "line 2" in refused.value.errors["steps.sums.items"][0]
    assert sent == [] and not list(Job.scan(limit=5))


def test_a_rolled_back_submission_deletes_the_item_steps_chunks_too(sent, monkeypatch):
    from jobs.services.workflows import submission

    monkeypatch.setattr(submission, "workflow_start", lambda **kw: (_ for _ in ()).throw(submission.PutError("down")))
    with pytest.raises(Exception):
        submit(SCORED)
    assert not list(Chunk.scan(limit=5)) and not list(Job.scan(limit=5))


def _cured_retry_body(cure: str) -> dict:
    return {"name": "cured", "steps": {
        "score": {"type": "probe", "payload": {"cure_file": cure}, "chunk_size": 2, "max_failed_ratio": 0,
                  "items": [{"v": "a"}, {"v": "b"}, {"v": "c", "fail": True}, {"v": "d"}, {"v": "e"}]},
        "below": {"type": "probe", "items": ["x", "y", "z"], "chunk_size": 2, "needs": ["score"],
                  "on_parent_failure": "continue"},
        "report": {"type": "collect", "needs": ["score"]},
    }}


def test_a_workflow_retry_reruns_a_failed_item_steps_failed_items_and_every_item_of_the_step_below(sent, tmp_path):
    from jobs.services.workflows.actions import workflow_retry

    cure = tmp_path / "cured"
    wf = submit(_cured_retry_body(str(cure)))
    run_all(sent)
    assert workflow_status(wf.workflow_id) == WorkflowStatus.FAILED
    assert statuses(wf.workflow_id) == {"score": "FAILED", "below": "COMPLETED", "report": "CANCELED"}
    score, below = job_of(wf.workflow_id, "score"), job_of(wf.workflow_id, "below")
    assert (int(score.items_succeeded), int(score.items_failed)) == (4, 1)
    attempts = {c.number: int(c.attempts) for c in chunks_of(score.job_id)}

    cure.write_text("")
    workflow_retry(workflow_id=wf.workflow_id, owner="alice", actor="alice")
    outcomes = run_all(sent)
    assert workflow_status(wf.workflow_id) == WorkflowStatus.COMPLETED, statuses(wf.workflow_id)
    score, below = job_of(wf.workflow_id, "score"), job_of(wf.workflow_id, "below")
    # score: only chunk 2 (lines 3-4) ran again; below: both its chunks, every item; the counts are exact.
    assert {c.number: int(c.attempts) - attempts[c.number] for c in chunks_of(score.job_id)} == {1: 0, 2: 1, 3: 0}
    assert (int(score.items_succeeded), int(score.items_failed), int(score.chunks_done)) == (5, 0, 3)
    assert [int(c.attempts) for c in chunks_of(below.job_id)] == [2, 2]
    assert (int(below.items_succeeded), int(below.items_failed), int(below.chunks_done)) == (3, 0, 2)
    assert outcomes.count(Outcome.COMPLETED) == 1 + 2 + 1, outcomes  # score's chunk 2, below's two, report
    assert job_of(wf.workflow_id, "report").result["parents"]["score"]["items"]["succeeded"] == 5
