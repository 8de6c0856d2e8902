"""Reads of workflows: the graph (cached: it never changes), one workflow with its steps, listings, a step's parents and relations."""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import PynamoDBConnectionError

from jobs.dag import Graph, Step, step_job_id
from jobs.exceptions import StoreUnavailable, WorkflowNotFound
from jobs.selectors.jobs import _decode_cursor, _query_fingerprint, cursor_for
from jobs.states import WorkflowStatus
from jobs.tables import ALL_SHARD, GRAPH_SK, JOB_SK, WORKFLOW_SK, Job, Workflow, WorkflowGraph

_CACHE: "OrderedDict[str, Graph]" = OrderedDict()
_CACHE_SIZE = 256
_LOCK = threading.Lock()


def graph_of(workflow_id: str) -> Graph:
    """The workflow's graph: one consistent GetItem the first time in this process, then from memory."""
    with _LOCK:
        graph = _CACHE.get(workflow_id)
        if graph is not None:
            _CACHE.move_to_end(workflow_id)
            return graph
    graph = Graph.loads(WorkflowGraph.get(workflow_id, GRAPH_SK, consistent_read=True).graph)
    with _LOCK:
        _CACHE[workflow_id] = graph
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return graph


def steps_read(workflow_id: str, indices, *, consistent: bool = True) -> dict[int, Job]:
    """Steps by number (BatchGetItem, 100 keys a request); a step not found is left out."""
    keys = [(step_job_id(workflow_id, i), JOB_SK) for i in indices]
    found = {}
    for start in range(0, len(keys), 100):
        for job in Job.batch_get(keys[start:start + 100], consistent_read=consistent):
            found[int(job.step_index)] = job
    return found


@dataclass
class WorkflowView:
    header: Workflow
    graph: Graph
    steps: dict[int, Job]  # by number


def _visible(header: Workflow, owner: str | None) -> bool:
    expired = header.expires_at is not None and header.expires_at <= datetime.now(UTC)
    return not expired and header.status != WorkflowStatus.SUBMITTING and (owner is None or header.submitter == owner)


def workflow_get(*, workflow_id: str, owner: str | None, consistent: bool = False) -> WorkflowView:
    """The workflow with every step (one GetItem, the graph, ceil(steps / 100) BatchGetItem), if `owner` may see it.

    `consistent`: strongly consistent reads (the answer to a write must show it).
    """
    try:
        header = Workflow.get(workflow_id, WORKFLOW_SK, consistent_read=consistent)
    except Workflow.DoesNotExist:
        raise WorkflowNotFound(f"No workflow {workflow_id}.") from None
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc
    if not _visible(header, owner):
        raise WorkflowNotFound(f"No workflow {workflow_id}.")
    try:
        graph = graph_of(workflow_id)
        steps = steps_read(workflow_id, range(len(graph.steps)), consistent=consistent)
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc
    return WorkflowView(header=header, graph=graph, steps=steps)


@dataclass
class WorkflowPage:
    items: list[Workflow]
    next_cursor: str | None


def workflow_list(*, owner: str | None, status: str | None = None, limit: int = 20, cursor: str | None = None) -> WorkflowPage:
    """Newest first: a user's (OwnerCreatedAt) or, for staff (owner None), every one (AllCreatedAt); a Query, never a Scan."""
    fingerprint = _query_fingerprint(owner=owner, status=status, kind="workflows")
    last_key = _decode_cursor(cursor, fingerprint) if cursor else None
    index, hash_key = (Workflow.owner_index, owner) if owner is not None else (Workflow.all_index, ALL_SHARD)
    try:
        results = index.query(hash_key, filter_condition=(Workflow.status == status) if status else None,
                              scan_index_forward=False, limit=limit, page_size=limit if not status else max(limit, 100),
                              last_evaluated_key=last_key)
        items = list(results)
        next_key = results.last_evaluated_key if len(items) == limit else None
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc
    return WorkflowPage(items=items, next_cursor=cursor_for(next_key, fingerprint))


def step_outcome(job: Job | None) -> dict:
    """What a step's child sees of it: its status and result (an item job's counts and where its results are)."""
    if job is None:
        return {"status": None, "job_id": None, "result": None, "error": None}
    seen = {"status": job.status, "job_id": job.job_id, "result": job.result,
            "error": dict(job.error.as_dict()) if job.error else None}
    if job.items_total is not None:
        seen["result"] = None
        seen["items"] = {"total": int(job.items_total or 0), "succeeded": int(job.items_succeeded or 0),
                         "failed": int(job.items_failed or 0), "skipped": int(job.items_skipped or 0)}
        seen["results"] = f"/jobs/{job.job_id}/results"
    return seen


def step_parents(job: Job) -> dict[str, dict]:
    """A step's parents by name, each as step_outcome says; a callback's are every step of its workflow."""
    graph = graph_of(job.workflow_id)
    step = graph.steps[int(job.step_index)]
    parents = [s.index for s in graph.regular] if step.is_callback else list(step.parents)
    reads = steps_read(job.workflow_id, parents)
    return {graph.steps[i].name: step_outcome(reads.get(i)) for i in parents}


def _named(workflow_id: str, steps: list[Step]) -> list[dict]:
    return [{"step": s.name, "job_id": step_job_id(workflow_id, s.index), "url": f"/jobs/{step_job_id(workflow_id, s.index)}"}
            for s in steps]


def step_relations(job: Job) -> dict | None:
    """A step's workflow, its parents and its children (by name and job id); None for a job outside any workflow."""
    if not job.workflow_id:
        return None
    try:
        graph = graph_of(job.workflow_id)
    except (WorkflowGraph.DoesNotExist, PynamoDBConnectionError):
        return None
    step = graph.steps[int(job.step_index)]
    return {
        "id": job.workflow_id, "url": f"/workflows/{job.workflow_id}", "step": step.name, "role": step.role,
        "on_parent_failure": step.on_parent_failure,
        "parents": _named(job.workflow_id, [graph.steps[i] for i in step.parents]),
        "children": _named(job.workflow_id, [graph.steps[i] for i in step.children]),
        "pending_parents": int(job.pending_parents) if job.pending_parents is not None else None,
    }
