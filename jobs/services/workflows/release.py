"""Telling a step's end to what waits for it: each child's counter of parents still running, and for a sink the workflow's end.

A step (or the workflow's start) that ends "tells" its targets — its children, in
number order, then the workflow's end if nobody needs it — with one operation
each, in a transaction with its own write:

- a child still waiting for other parents: its counter goes down by one
  (conditional on it being above one);
- the child's last parent: the same operation decides it (conditional on the
  counter being exactly one): it is released (WAITING -> QUEUED), or ended
  (WAITING -> CANCELED, `dependency_failed`) when a parent failed and its policy is
  "fail", or when its workflow's cancel reached it;
- the workflow's end counts its sinks the same way; the sink that ends last sets
  the workflow's final status and releases (or ends) its callbacks in the same
  transaction.

What decides is read first (one consistent BatchGetItem of the targets), so each
operation's condition states what it expects; if another parent's transaction
moved a shared child meanwhile, the condition is false, nothing is written, and
the writer reads again and tries again. A transaction is all or nothing, and the
step's own write in it applies once (its condition: the claim's token, or the
status it read), so each edge is counted once whatever the duplicates, lost
answers or crashed workers; the write that brings a counter to zero is the one
release. A released step is published after the commit (a lost publish leaves it
QUEUED: recovery publishes it).
"""

from dataclasses import dataclass, field

from jobs.dag import Graph, Step
from jobs.documents import workflow_event_data
from jobs.services import webhooks
from jobs.services.store import append, entry, utcnow
from jobs.selectors.workflows import steps_read
from jobs.services.workflows.graphs import header_read, header_ref
from jobs.states import FINAL_STATUSES, RELEASE, SKIP, JobStatus, WorkflowStatus
from jobs.tables import JOB_SK, NOTIFY_SHARD, Job, Workflow

END = -1  # the workflow's end, as a target
# A step's final write tells at most this many targets itself; it leaves room among
# DynamoDB's 100 actions per transaction for its own update and other features' operations.
INLINE = 90
# Each later link tells this many: the step's cursor, these, and the workflow's callbacks (3).
LINK = 95
DEPENDENCY_FAILED = "dependency_failed"


@dataclass(frozen=True)
class Bits:
    """What an ended step hands down: a step at or above it failed; one was canceled (and none failed)."""

    failed: bool = False
    canceled: bool = False


def bits_of(*, status: str, upstream_failed, upstream_canceled) -> Bits:
    failed = status == JobStatus.FAILED or bool(upstream_failed)
    return Bits(failed=failed, canceled=not failed and (status == JobStatus.CANCELED or bool(upstream_canceled)))


@dataclass
class Told:
    """A batch of targets told: the transaction's operations, and what they will do once committed."""

    ops: list = field(default_factory=list)  # each op(tx) adds itself to a TransactWrite
    released: list[int] = field(default_factory=list)  # steps it releases (to publish after the commit)
    ended: list[str] = field(default_factory=list)  # job ids of steps it ends that have targets of their own
    finished: str | None = None  # the workflow's final status, when this tells its end last
    committed: list = field(default_factory=list)  # calls once the transaction applied (the workflow event's sends)


def targets_of(graph: Graph, step: Step) -> list[int]:
    """What a step's end is told to, in order: its children, then the workflow's end for a sink (callbacks: nothing)."""
    if step.is_callback:
        return []
    return [*step.children, *([END] if not step.children else [])]


def marker_actions(*, start: int) -> list:
    """The actions that leave a step's end to tell from target `start` on (the sparse NotifyIndex finds it)."""
    return [Job.notify_from.set(start), Job.notify_shard.set(NOTIFY_SHARD), Job.notify_at.set(int(utcnow().timestamp()))]


def marker_cleared() -> list:
    return [Job.notify_from.remove(), Job.notify_shard.remove(), Job.notify_at.remove()]


def tell(*, workflow_id: str, graph: Graph, bits: Bits, targets: list[int], source: str) -> Told:
    """The operations that tell `targets` (step numbers, END) of an end handing down `bits`; reads them first.

    `source` names the end in the timelines ("extract", "the workflow's start").
    Targets that are not waiting (a duplicate's late attempt, a step already
    decided) get no operation.
    """
    told = Told()
    children = [t for t in targets if t != END]
    reads = steps_read(workflow_id, children)
    for index in children:
        child = reads.get(index)
        if child is None or child.status != JobStatus.WAITING:
            continue
        _tell_child(told, workflow_id=workflow_id, graph=graph, step=graph.steps[index], child=child, bits=bits,
                    source=source)
    if END in targets:
        _tell_end(told, workflow_id=workflow_id, graph=graph, bits=bits)
    return told


def _cancel_flag_is(model, flag: bool):
    attribute = model.cancel_requested
    return (attribute == True) if flag else (attribute.does_not_exist() | (attribute == False))  # noqa: E712


def _op(model_ref, actions: list, condition):
    def add(tx):
        tx.update(model_ref, actions=actions, condition=condition, add_version_condition=False)
    return add


def _taint(model, bits: Bits) -> list:
    return ([model.upstream_failed.set(True)] if bits.failed else []) + ([model.upstream_canceled.set(True)] if bits.canceled else [])


def _tell_child(told: Told, *, workflow_id: str, graph: Graph, step: Step, child: Job, bits: Bits, source: str) -> None:
    ref = Job(child.job_id, JOB_SK)
    pending = int(child.pending_parents or 0)
    if pending > 1:
        told.ops.append(_op(ref, [Job.pending_parents.add(-1), *_taint(Job, bits)],
                            (Job.status == JobStatus.WAITING) & (Job.pending_parents > 1)))
        return
    if pending != 1:
        return  # nothing left to count: not this end's to decide
    mine = bits_of(status=JobStatus.WAITING, upstream_failed=child.upstream_failed or bits.failed,
                   upstream_canceled=child.upstream_canceled or bits.canceled)
    now = utcnow()
    condition = (Job.status == JobStatus.WAITING) & (Job.pending_parents == 1) & _cancel_flag_is(Job, bool(child.cancel_requested))
    common = [Job.pending_parents.set(0), *_taint(Job, mine), Job.updated_at.set(now), Job.version.add(1)]
    if child.cancel_requested:
        reason = (SKIP, "canceled", "Not run: its workflow was canceled.")
    elif step.on_parent_failure == "fail" and (mine.failed or mine.canceled):
        what = "failed" if mine.failed else "was canceled"
        reason = (SKIP, DEPENDENCY_FAILED, f"Not run: a step it needs (or one above it) {what}.")
    else:
        reason = None
    if reason is None:
        told.ops.append(_op(ref, [
            Job.status.set(RELEASE.target), *common, Job.available_at.set(int(now.timestamp())),
            append(entry("released", status=RELEASE.target, message=f"Released by the end of {source}.")),
        ], condition))
        told.released.append(step.index)
        return
    transition, code, message = reason
    own = targets_of(graph, step)
    told.ops.append(_op(ref, [
        Job.status.set(transition.target), *common, Job.error.set({"code": code, "message": message}),
        Job.finished_at.set(now), append(entry("canceled", status=transition.target, message=message)),
        *(marker_actions(start=0) if own else []),
    ], condition))
    if own:
        told.ended.append(child.job_id)


def _tell_end(told: Told, *, workflow_id: str, graph: Graph, bits: Bits) -> None:
    header = header_read(workflow_id)
    if header.status != WorkflowStatus.RUNNING:
        return
    ref = header_ref(workflow_id)
    pending = int(header.sinks_pending or 0)
    if pending > 1:
        told.ops.append(_op(ref, [Workflow.sinks_pending.add(-1), *_taint(Workflow, bits)],
                            (Workflow.status == WorkflowStatus.RUNNING) & (Workflow.sinks_pending > 1)))
        return
    if pending != 1:
        return
    failed = bool(header.upstream_failed) or bits.failed
    canceled = bool(header.upstream_canceled) or bits.canceled
    if header.cancel_requested:
        status = WorkflowStatus.CANCELED
    else:
        status = WorkflowStatus.FAILED if failed else WorkflowStatus.CANCELED if canceled else WorkflowStatus.COMPLETED
    now = utcnow()
    told.ops.append(_op(ref, [
        Workflow.status.set(status), Workflow.sinks_pending.set(0), Workflow.finished_at.set(now),
        Workflow.updated_at.set(now), *_taint(Workflow, Bits(failed=failed, canceled=canceled)),
        Workflow.timeline.set(Workflow.timeline.append([entry(status.lower(), status=status, message=_ended(status))])),
    ], (Workflow.status == WorkflowStatus.RUNNING) & (Workflow.sinks_pending == 1)
        & _cancel_flag_is(Workflow, bool(header.cancel_requested))))
    told.finished = status
    # workflow.<status>: its deliveries in this same transaction (none unless it applies), sent after it.
    event = webhooks.workflow_ended_event(owner=graph.owner or header.submitter, status=status,
                                          data=workflow_event_data(header, status=status, finished_at=now))
    told.ops += event.ops()
    told.committed.append(event.committed)
    _callbacks_decide(told, workflow_id=workflow_id, graph=graph, status=status)


def _ended(status: str) -> str:
    return {WorkflowStatus.COMPLETED: "Every step completed.", WorkflowStatus.FAILED: "Every step ended; some failed.",
            WorkflowStatus.CANCELED: "Every step ended; canceled."}[status]


RUNS_ON = {"on_success": {WorkflowStatus.COMPLETED}, "on_failure": {WorkflowStatus.FAILED},
           "on_complete": {WorkflowStatus.COMPLETED, WorkflowStatus.FAILED}}


def _callbacks_decide(told: Told, *, workflow_id: str, graph: Graph, status: str) -> None:
    """The workflow's end releases the callbacks its status calls for and ends the others (a canceled one runs none)."""
    callbacks = graph.callbacks
    reads = steps_read(workflow_id, [c.index for c in callbacks])
    now = utcnow()
    for step in callbacks:
        job = reads.get(step.index)
        if job is None or job.status in FINAL_STATUSES or job.status != JobStatus.WAITING:
            continue
        ref = Job(job.job_id, JOB_SK)
        condition = ((Job.status == JobStatus.WAITING) & (Job.pending_parents == 1)
                     & _cancel_flag_is(Job, bool(job.cancel_requested)))
        common = [Job.pending_parents.set(0), Job.updated_at.set(now), Job.version.add(1)]
        if status in RUNS_ON[step.role] and not job.cancel_requested:
            told.ops.append(_op(ref, [Job.status.set(RELEASE.target), *common, Job.available_at.set(int(now.timestamp())),
                                      append(entry("released", status=RELEASE.target,
                                                   message=f"Released: the workflow ended {status}."))], condition))
            told.released.append(step.index)
            continue
        message = f"Not run: the workflow ended {status}."
        told.ops.append(_op(ref, [Job.status.set(SKIP.target), *common, Job.finished_at.set(now),
                                  Job.error.set({"code": "not_applicable", "message": message}),
                                  append(entry("canceled", status=SKIP.target, message=message))], condition))
