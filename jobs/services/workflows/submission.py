"""Submitting a workflow: its header, its graph and every step (as WAITING jobs), then its start; all or nothing.

Requests for S steps: one PutItem for the header (a TransactWriteItems with an
Idempotency-Key), one PutItem for the graph, ceil(S / 25) BatchWriteItem for the
steps, one UpdateItem that starts it, and one transaction per 95 first steps
releasing them (with their SendMessageBatch). Until it starts, the header is
SUBMITTING and listed nowhere; if the submission fails midway what it wrote is
deleted, and if its process died, recovery deletes it once it is older than
BATCHLAB_WORKFLOW_SUBMIT_GRACE_SECONDS. A retry with the same Idempotency-Key
(and body) returns the same workflow, finishing a submission that was cut short.
"""

import hashlib
import uuid
from datetime import timedelta

from django.conf import settings
from pynamodb.exceptions import PutError, PynamoDBConnectionError, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from jobs.dag import Graph, step_job_id
from jobs.exceptions import IdempotencyKeyReused, StoreUnavailable
from jobs.services import webhooks
from jobs.services.items.submission import chunks_write_once
from jobs.services.store import canonical_json, entry, is_condition_failure, logger, store_error, utcnow
from jobs.services.workflows.graphs import header_read
from jobs.services.workflows.plans import START, SUBMIT, plan_actions, plan_run
from jobs.services.workflows.steps import item_steps, step_job, workflow_graph
from jobs.states import WorkflowStatus
from jobs.tables import (
    ALL_SHARD,
    GRAPH_SK,
    JOB_SK,
    PLAN_SHARD,
    WORKFLOW_SK,
    Chunk,
    IdempotencyRecord,
    Job,
    Workflow,
    WorkflowGraph,
    chunk_sk,
)

STORE_ERRORS = (PutError, PynamoDBConnectionError, TransactWriteError, PynamoDBException)


def workflow_submit(
    *, owner: str, definition: dict, idempotency_key: str | None = None, schedule_id: str | None = None,
    workflow_id: str | None = None,
) -> tuple[Workflow, bool]:
    """Store a workflow and start it (its first steps queued); return (header, created).

    `definition` is jobs.serializers' validated one (name, steps, body). With an
    Idempotency-Key seen before from this owner and the same body: that workflow,
    created=False (IdempotencyKeyReused with another body). `workflow_id` (a
    schedule's run) makes the creation happen once: an existing one comes back.
    """
    steps = definition["steps"]
    items = item_steps(steps)
    graph = workflow_graph(steps=steps, owner=owner, items=items)
    derived = workflow_id is not None
    workflow_id = workflow_id or str(uuid.uuid4())
    now = utcnow()
    header = Workflow(
        workflow_id, name=definition["name"], status=WorkflowStatus.SUBMITTING, submitter=owner, created_at=now,
        updated_at=now, steps_total=len(graph.regular), sinks_pending=len(graph.sinks), runs=1, schedule_id=schedule_id,
        timeline=[entry("submitted", status=WorkflowStatus.SUBMITTING,
                        message=f"Submitted by {owner}: {len(graph.regular)} steps, {len(graph.edges)} edges.")],
        expires_at=timedelta(days=settings.BATCHLAB_RETENTION_DAYS),
    )
    # On the plan index while SUBMITTING: recovery deletes a submission whose process died.
    header.plan_kind, header.plan_shard, header.plan_at = SUBMIT, PLAN_SHARD, int(now.timestamp())

    hooks = webhooks.job_hooks(owner=owner)  # each step is a job: the owner's webhooks hear of it

    def parts_of(wid: str) -> tuple[list[Job], list[Chunk]]:
        chunks: list[Chunk] = []
        jobs = [step_job(workflow_id=wid, workflow_name=definition["name"], graph=graph, index=index, step=step,
                          owner=owner, hooks=hooks, items=items, chunks=chunks) for index, step in enumerate(steps)]
        return jobs, chunks

    try:
        if idempotency_key is not None:
            seen = _header_idempotent(header=header, owner=owner, key=idempotency_key, body=definition["body"])
            if seen is not None:
                return _resumed(seen, graph=graph, parts=parts_of(seen.workflow_id)), False
        elif not _save_new(header):
            if derived:
                return _resumed(header_read(workflow_id), graph=graph, parts=parts_of(workflow_id)), False
            raise StoreUnavailable("A workflow with this id exists already; try again.")
        WorkflowGraph(workflow_id, GRAPH_SK, graph=graph.dumps(), expires_at=header.expires_at).save()
        jobs, chunks = parts_of(workflow_id)
        with Chunk.batch_write() as batch:  # an item step's chunks before its job: a job is never seen without them
            for chunk in chunks:
                batch.save(chunk)
        with Job.batch_write() as batch:
            for job in jobs:
                batch.save(job)
        workflow_start(workflow_id=workflow_id, graph=graph)
    except STORE_ERRORS as exc:
        _rollback_quietly(workflow_id, graph)
        raise store_error(exc) from exc
    logger.info("workflow %s submitted by %s: %s steps", workflow_id, owner, len(graph.regular))
    return header_read(workflow_id), True


def workflow_start(*, workflow_id: str, graph: Graph) -> None:
    """SUBMITTING -> RUNNING (listed from now on), then release its first steps (the start plan)."""
    now = utcnow()
    try:
        Workflow(workflow_id, WORKFLOW_SK).update(actions=[
            Workflow.status.set(WorkflowStatus.RUNNING), Workflow.owner.set(graph.owner), Workflow.list_shard.set(ALL_SHARD),
            Workflow.updated_at.set(now), *plan_actions(kind=START, steps=list(graph.roots)),
            Workflow.timeline.set(Workflow.timeline.append([entry("started", status=WorkflowStatus.RUNNING,
                                                                  message=f"{len(graph.roots)} first steps released.")])),
        ], condition=(Workflow.status == WorkflowStatus.SUBMITTING) & (Workflow.plan_kind == SUBMIT),
            add_version_condition=False)
    except Exception as exc:
        if not is_condition_failure(exc):
            raise
        # Started already (a concurrent retry of the same submission), or being deleted (recovery).
        if header_read(workflow_id).status == WorkflowStatus.SUBMITTING:
            raise StoreUnavailable("This workflow's submission was abandoned and is being deleted; submit it again.") from None
    try:
        plan_run(workflow_id)
    except Exception as exc:  # it runs: the plan's cursor is on the header, and recovery carries it on
        logger.warning("workflow %s started, its first steps not all released yet (%s); recovery goes on", workflow_id, exc)


def _save_new(header: Workflow) -> bool:
    """PutItem of a new header; False when its id exists (an earlier try of this PutItem, or another scheduler's run)."""
    try:
        header.save(condition=Workflow.workflow_id.does_not_exist())
    except PutError as exc:
        if not is_condition_failure(exc):
            raise
        return False
    return True


def _record_key(owner: str, key: str) -> str:
    # A space cannot be in an Idempotency-Key: a workflow's key never meets a job's.
    return f"{owner}#workflow {key}"


def _header_idempotent(*, header: Workflow, owner: str, key: str, body: dict) -> Workflow | None:
    """Write the header and the key's record together; on a key seen before, return its workflow (or refuse)."""
    body_hash = hashlib.sha256(canonical_json(body).encode()).hexdigest()
    record = IdempotencyRecord(key=_record_key(owner, key), body_hash=body_hash, job_id=header.workflow_id,
                               created_at=header.created_at, expires_at=timedelta(days=settings.BATCHLAB_RETENTION_DAYS))
    for _attempt in range(5):
        try:
            with TransactWrite(connection=Job._get_connection().connection) as tx:
                tx.save(record, condition=IdempotencyRecord.key.does_not_exist())
                tx.save(header, condition=Workflow.workflow_id.does_not_exist())
            return None
        except TransactWriteError as exc:
            if not is_condition_failure(exc):
                raise
        try:
            seen = IdempotencyRecord.get(record.key, consistent_read=True)
        except IdempotencyRecord.DoesNotExist:
            continue  # two transactions on one key canceled each other: try again
        if seen.body_hash != body_hash:
            raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was already used for workflow {seen.job_id} with a"
                                       " different request body.")
        try:
            return header_read(seen.job_id)
        except Workflow.DoesNotExist:
            # Its submission failed and was deleted: the key is free again.
            try:
                seen.delete(condition=IdempotencyRecord.job_id == seen.job_id)
            except Exception as exc:  # deleted meanwhile by the other try: go on
                if not is_condition_failure(exc):
                    raise
    raise StoreUnavailable("Could not record the Idempotency-Key; try again.")


def _resumed(header: Workflow, *, graph: Graph, parts: tuple[list[Job], list[Chunk]]) -> Workflow:
    """A workflow seen again (same key and body, or a derived id): finish its submission if that was cut short."""
    if header.status != WorkflowStatus.SUBMITTING:
        if header.plan_kind is not None:
            plan_run(header.workflow_id)  # a start cut short: finish it
        return header_read(header.workflow_id)
    if header.plan_kind != SUBMIT:
        raise StoreUnavailable("This workflow's submission was abandoned and is being deleted; submit it again shortly.")
    WorkflowGraph(header.workflow_id, GRAPH_SK, graph=graph.dumps(), expires_at=header.expires_at).save()
    jobs, chunks = parts
    chunks_write_once(chunks)  # the chunks the first try wrote stay as they are
    for job in jobs:
        try:
            job.save(condition=Job.job_id.does_not_exist())  # written by the first try: the same step
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
    workflow_start(workflow_id=header.workflow_id, graph=graph)
    return header_read(header.workflow_id)


def workflow_rollback(workflow_id: str) -> bool:
    """Delete a submission that never started: header marked first (no start after it), then steps, graph, header.

    False when it started meanwhile (nothing deleted).
    """
    try:
        Workflow(workflow_id, WORKFLOW_SK).update(actions=[Workflow.plan_kind.set("rollback")],
                                                  condition=(Workflow.status == WorkflowStatus.SUBMITTING),
                                                  add_version_condition=False)
    except Exception as exc:
        if is_condition_failure(exc):
            return False
        raise
    try:
        stored = Graph.loads(WorkflowGraph.get(workflow_id, GRAPH_SK, consistent_read=True).graph).steps
    except WorkflowGraph.DoesNotExist:
        stored = ()  # the graph is written before any step: none was
    with Job.batch_write() as batch:
        for step in stored:
            batch.delete(Job(step_job_id(workflow_id, step.index), JOB_SK))
    with Chunk.batch_write() as batch:
        for step in stored:
            for number in range(1, step.chunks + 1):
                batch.delete(Chunk(step_job_id(workflow_id, step.index), chunk_sk(number)))
    WorkflowGraph(workflow_id, GRAPH_SK).delete()
    Workflow(workflow_id, WORKFLOW_SK).delete()
    logger.info("workflow %s: an abandoned submission was deleted", workflow_id)
    return True


def _rollback_quietly(workflow_id: str, graph: Graph) -> None:
    try:
        workflow_rollback(workflow_id)
    except Exception as exc:  # the store still failing: recovery deletes it after the grace period
        logger.warning("workflow %s: its failed submission is left for recovery to delete (%s)", workflow_id, exc)
