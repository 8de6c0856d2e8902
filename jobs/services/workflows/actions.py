"""Actions of users and staff on a whole workflow: cancel every unfinished step, retry what failed and everything below it."""

from pynamodb.exceptions import PynamoDBConnectionError

from jobs.exceptions import JobStateConflict, WorkflowNotFound, WorkflowStateConflict
from jobs.services.items.actions import chunks_rerun
from jobs.services.store import entry, is_condition_failure, logger, store_error, utcnow
from jobs.selectors.workflows import steps_read
from jobs.services.workflows.graphs import graph_of, header_read, header_ref
from jobs.services.workflows.plans import CANCEL, RETRY_PLAN, plan_actions, plan_run, retry_plan
from jobs.states import FINAL_STATUSES, FINAL_WORKFLOW_STATUSES, JobStatus, WorkflowStatus
from jobs.tables import Workflow


def workflow_visible(*, workflow_id: str, owner: str | None) -> Workflow:
    """The header (consistent read), if `owner` may act on it (None: staff); else WorkflowNotFound."""
    try:
        header = header_read(workflow_id)
    except Workflow.DoesNotExist:
        raise WorkflowNotFound(f"No workflow {workflow_id}.") from None
    except PynamoDBConnectionError as exc:
        raise store_error(exc) from exc
    if owner is not None and header.submitter != owner:
        raise WorkflowNotFound(f"No workflow {workflow_id}.")
    return header


def _begin(workflow_id: str, *, status: str, actions: list) -> None:
    """The header's write that begins a plan: conditional on its status as read and on no plan in progress."""
    try:
        header_ref(workflow_id).update(actions=[*actions, Workflow.updated_at.set(utcnow())],
                                       condition=(Workflow.status == status) & Workflow.plan_kind.does_not_exist(),
                                       add_version_condition=False)
    except Exception as exc:
        if is_condition_failure(exc):
            raise WorkflowStateConflict(f"Workflow {workflow_id} changed meanwhile; try again.") from None
        raise store_error(exc) from exc


def workflow_cancel(*, workflow_id: str, owner: str | None, actor: str) -> Workflow:
    """Cancel every unfinished step: QUEUED ones at once, running ones cooperatively, waiting ones when their turn comes.

    The header records the cancel first (the workflow's end will be CANCELED and
    run no callback), then every step is told, parents first; the answer comes
    once every step was: from then on no step starts. A second cancel goes on
    with the first. Only a RUNNING workflow: else WorkflowStateConflict.
    """
    header = workflow_visible(workflow_id=workflow_id, owner=owner)
    if header.status != WorkflowStatus.RUNNING:
        raise WorkflowStateConflict(f"Workflow {workflow_id} is {header.status} and cannot be canceled.",
                                    extra={"workflow_status": header.status})
    if header.plan_kind is not None:
        plan_run(workflow_id)  # a start or a retry in progress first (or the same cancel again)
        header = header_read(workflow_id)
    if not header.cancel_requested and header.status == WorkflowStatus.RUNNING:
        graph = graph_of(workflow_id)
        _begin(workflow_id, status=WorkflowStatus.RUNNING, actions=[
            Workflow.cancel_requested.set(True),
            *plan_actions(kind=CANCEL, steps=[*graph.topological(), *(c.index for c in graph.callbacks)]),
            Workflow.timeline.set(Workflow.timeline.append([entry("cancel_requested", message=f"Canceled by {actor}.")])),
        ])
        plan_run(workflow_id)
    logger.info("workflow %s canceled by %s", workflow_id, actor)
    return header_read(workflow_id)


def workflow_retry(*, workflow_id: str, owner: str | None, actor: str) -> Workflow:
    """Re-run the failed and canceled steps and every step below them (nothing else), then the callbacks again.

    Only a FAILED or CANCELED workflow whose steps (callbacks too) have all ended;
    else WorkflowStateConflict. The steps below wait again for their parents in the
    retry; those with none there are queued, last.
    """
    header = workflow_visible(workflow_id=workflow_id, owner=owner)
    if header.status not in FINAL_WORKFLOW_STATUSES or header.status == WorkflowStatus.COMPLETED:
        raise WorkflowStateConflict(f"Workflow {workflow_id} is {header.status}; only a FAILED or CANCELED one can be"
                                    " retried.", extra={"workflow_status": header.status})
    if header.plan_kind is not None:
        raise WorkflowStateConflict(f"Workflow {workflow_id} is being {header.plan_kind}ed; try again shortly.")
    graph = graph_of(workflow_id)
    jobs = steps_read(workflow_id, range(len(graph.steps)))
    statuses = {i: job.status for i, job in jobs.items()}
    running = [graph.steps[i].name for i, status in statuses.items() if status not in FINAL_STATUSES]
    if running:
        raise WorkflowStateConflict(f"Workflow {workflow_id} still runs {', '.join(running[:5])}; retry once they ended.")
    plan, sinks = retry_plan(graph, statuses)
    _item_steps_reset(workflow_id, graph=graph, jobs=jobs, plan=plan)
    _begin(workflow_id, status=header.status, actions=[
        Workflow.status.set(WorkflowStatus.RUNNING), Workflow.sinks_pending.set(sinks), Workflow.upstream_failed.remove(),
        Workflow.upstream_canceled.remove(), Workflow.cancel_requested.remove(), Workflow.canceled_at.remove(),
        Workflow.finished_at.remove(), Workflow.runs.add(1), *plan_actions(kind=RETRY_PLAN, steps=plan),
        Workflow.timeline.set(Workflow.timeline.append([entry(
            "retried", status=WorkflowStatus.RUNNING,
            message=f"Retried by {actor}: {len(plan) - len(graph.callbacks)} steps run again.")])),
    ])
    plan_run(workflow_id)
    logger.info("workflow %s retried by %s: %s steps", workflow_id, actor, len(plan))
    return header_read(workflow_id)


def _item_steps_reset(workflow_id: str, *, graph, jobs: dict, plan: list[int]) -> None:
    """Before a retry's plan begins, the item steps in it get their chunks back: a failed or canceled one its failed
    items and stopped chunks (as an item job's retry), one below them that completed every item (its parents change).
    A step that never ran (its chunks still PENDING) has nothing to reset."""
    for index in plan:
        step, job = graph.steps[index], jobs.get(index)
        if not step.chunks or step.is_callback or job is None or not int(job.chunks_done or 0):
            continue
        try:
            chunks_rerun(job=job, every_item=job.status == JobStatus.COMPLETED)
        except JobStateConflict:
            raise WorkflowStateConflict(f"Workflow {workflow_id}: step {step.name} changed meanwhile; try again.") from None
