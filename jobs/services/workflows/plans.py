"""A workflow's plans: its start, a cancel and a retry, each walking its steps in links recorded on the header.

The header carries the plan (PlanKind, the steps in order, PlanFrom: the next
one) from the write that begins it to the write that ends it, and sits on the
sparse plan index meanwhile, so that recovery finishes a plan whose process
died. A link of the start (releasing the first steps) and of a retry (steps
waiting again, then the failed ones queued) is one transaction with the header's
cursor, conditional on it: it applies once. A cancel's steps are each their own
conditional write, which a second pass leaves alone: it needs no cursor.
"""

from datetime import timedelta

from django.conf import settings

from jobs.dag import Graph, step_job_id
from jobs.services.jobs.actions import job_cancel_record
from jobs.services.store import append, backoff_pause, entry, logger, utcnow
from jobs.selectors.workflows import steps_read
from jobs.services.workflows.graphs import graph_of, header_read, header_ref, steps_publish
from jobs.services.workflows.links import TRIES, Retry, transact
from jobs.services.workflows.release import LINK, Bits, marker_cleared, tell
from jobs.states import FINAL_STATUSES, RETRY, WAIT_AGAIN, JobStatus
from jobs.tables import JOB_SK, PLAN_SHARD, Job, Workflow

START, CANCEL, RETRY_PLAN, SUBMIT = "start", "cancel", "retry", "submit"


def plan_actions(*, kind: str, steps: list[int]) -> list:
    """The header's actions that begin a plan (and put it on the plan index)."""
    return [Workflow.plan_kind.set(kind), Workflow.plan_steps.set(list(steps)), Workflow.plan_from.set(0),
            Workflow.plan_shard.set(PLAN_SHARD), Workflow.plan_at.set(int(utcnow().timestamp()))]


def plan_cleared() -> list:
    return [Workflow.plan_kind.remove(), Workflow.plan_steps.remove(), Workflow.plan_from.remove(),
            Workflow.plan_shard.remove(), Workflow.plan_at.remove()]


def plan_run(workflow_id: str) -> None:
    """Carry the header's plan (if any) to its end, link by link; safe to run twice at once (one wins each link)."""
    attempt = 0
    while True:
        header = header_read(workflow_id)
        if header.plan_kind not in (START, CANCEL, RETRY_PLAN):
            return
        graph = graph_of(workflow_id)
        steps, start = [int(i) for i in header.plan_steps or []], int(header.plan_from or 0)
        if header.plan_kind == CANCEL:
            _cancel_steps(workflow_id=workflow_id, graph=graph, steps=steps[start:], actor="workflow cancel")
            _end_plan(workflow_id, CANCEL, start, [Workflow.canceled_at.set(utcnow()), Workflow.timeline.set(
                Workflow.timeline.append([entry("cancel_recorded", message="Every step was told of the cancel.")]))])
            return
        batch = steps[start:start + LINK]
        end = start + len(batch)
        if header.plan_kind == START:
            told = tell(workflow_id=workflow_id, graph=graph, bits=Bits(), targets=batch, source="the workflow's start")
            ops, released = told.ops, told.released
        else:
            ops, released = _retry_ops(workflow_id=workflow_id, graph=graph, plan=steps, batch=batch)
        cursor = plan_cleared() if end >= len(steps) else [Workflow.plan_from.set(end)]
        try:
            transact(header_ref(workflow_id), cursor, (Workflow.plan_kind == header.plan_kind) & (Workflow.plan_from == start),
                     ops)
        except Retry:
            attempt += 1
            if attempt >= TRIES:
                raise
            backoff_pause(attempt)
            continue
        attempt = 0
        steps_publish(workflow_id=workflow_id, graph=graph, indices=released)


def _end_plan(workflow_id: str, kind: str, start: int, actions: list) -> None:
    try:
        transact(header_ref(workflow_id), [*plan_cleared(), *actions], Workflow.plan_kind == kind, [])
    except Retry:
        pass  # another run of the same plan ended it


# -- cancel ----------------------------------------------------------------------

def _cancel_steps(*, workflow_id: str, graph: Graph, steps: list[int], actor: str) -> None:
    """Every unfinished step told of the cancel: a waiting one is marked (its last parent's end cancels it), a queued
    one is canceled, a running one asked to stop. Each is one conditional write; a step that moved is read again."""
    for index in steps:
        job_id = step_job_id(workflow_id, index)
        for attempt in range(TRIES):
            job = Job.get(job_id, JOB_SK, consistent_read=True)
            if job.status in FINAL_STATUSES or job.cancel_requested:
                break
            try:
                if job.status == JobStatus.WAITING:
                    transact(Job(job_id, JOB_SK), [
                        Job.cancel_requested.set(True), Job.updated_at.set(utcnow()), Job.version.add(1),
                        append(entry("cancel_requested", status=JobStatus.WAITING, message=f"Its workflow was canceled by {actor}."))],
                        (Job.status == JobStatus.WAITING), [])
                else:
                    job_cancel_record(job=job, actor=actor)  # the job's own cancel (its end tells its children)
                break
            except Exception as exc:  # moved between our read and write (Retry, JobStateConflict): read it again
                logger.info("workflow %s: step %s moved while being canceled (%s)", workflow_id, graph.steps[index].name, exc)
                backoff_pause(attempt)


# -- retry -----------------------------------------------------------------------

def retry_plan(graph: Graph, statuses: dict[int, str]) -> tuple[list[int], int]:
    """(the retry's steps in order, the sinks among them): the failed and canceled steps and every step below them,
    parents first; then the callbacks; then the steps that run first (all their parents outside the retry)."""
    failed = [i for i, status in statuses.items() if status in (JobStatus.FAILED, JobStatus.CANCELED)
              and not graph.steps[i].is_callback]
    again = graph.descendants(failed)
    order = graph.topological(again)
    first = [i for i in order if not any(p in again for p in graph.steps[i].parents)]
    waiting = [i for i in order if i not in first]
    sinks = sum(1 for i in again if not graph.steps[i].children)
    return [*waiting, *[c.index for c in graph.callbacks], *first], sinks


def _retry_ops(*, workflow_id: str, graph: Graph, plan: list[int], batch: list[int]) -> tuple[list, list[int]]:
    """The operations of one link of a retry: each step waits again (counting its parents in the retry) or is queued."""
    again = set(plan)
    reads = steps_read(workflow_id, batch)
    ops, released, now = [], [], utcnow()
    for index in batch:
        job, step = reads.get(index), graph.steps[index]
        if job is None or job.status not in FINAL_STATUSES:
            continue  # not final: nothing to take back (a callback that never ran waits already)
        parents = sum(1 for p in step.parents if p in again)
        first = not step.is_callback and parents == 0
        common = [
            Job.cancel_requested.set(False), Job.error.remove(), Job.result.remove(), Job.finished_at.remove(),
            Job.lease_owner.remove(), Job.claim_token.remove(), Job.lease_expires_at.remove(), Job.progress_done.set(0),
            Job.upstream_failed.remove(), Job.upstream_canceled.remove(), *marker_cleared(),
            Job.max_attempts.set(int(job.attempts or 0) + settings.BATCHLAB_MAX_ATTEMPTS), Job.updated_at.set(now),
            Job.version.add(1), Job.expires_at.set(timedelta(days=settings.BATCHLAB_RETENTION_DAYS)),
        ]
        if first:
            transition = RETRY
            actions = [Job.status.set(RETRY.target), Job.pending_parents.set(0), Job.available_at.set(int(now.timestamp())),
                       append(entry("retried", status=RETRY.target, message="Its workflow was retried."))]
            released.append(index)
        else:
            transition = WAIT_AGAIN
            actions = [Job.status.set(WAIT_AGAIN.target), Job.pending_parents.set(parents if not step.is_callback else 1),
                       append(entry("waiting", status=WAIT_AGAIN.target, message="Its workflow was retried: it waits for"
                                    " its parents again."))]
        if not transition.allows(job.status):
            continue
        condition = (Job.status == job.status) & (Job.version == job.version)
        ref = Job(job.job_id, JOB_SK)

        def op(tx, ref=ref, actions=[*actions, *common], condition=condition):
            tx.update(ref, actions=actions, condition=condition, add_version_condition=False)
        ops.append(op)
    return ops, released
