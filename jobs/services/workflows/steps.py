"""The steps of a workflow's submission: the stored graph, each step's job (WAITING), an item step's items and chunks."""

from jobs.dag import Graph, StepSpec, dag_build, step_job_id
from jobs.exceptions import InvalidItems, InvalidPayload, InvalidWorkflow
from jobs.handlers.registry import job_type_get
from jobs.selectors.flow import type_limits
from jobs.services import webhooks
from jobs.services.items.submission import ItemsSource, chunk_size_for, inline_cuts, item_job_build, items_inline
from jobs.services.jobs.submission import job_build
from jobs.services.store import entry
from jobs.states import JobStatus
from jobs.tables import Chunk, Job

__all__ = ["ItemStep", "item_steps", "step_job", "workflow_graph"]


def workflow_graph(*, steps: list[dict], owner: str, items: dict[str, "ItemStep"] | None = None) -> Graph:
    """The stored graph of validated steps: each with its job's priority (the type's, unless given), key, and an item
    step's chunk count (what its release publishes)."""
    specs = []
    items = items or {}
    for step in steps:
        priority = step.get("priority") or type_limits(type=step["type"]).priority
        specs.append(StepSpec(name=step["step"], role=step["role"], needs=tuple(step.get("needs") or ()),
                              on_parent_failure=step.get("on_parent_failure") or "fail", type=step["type"],
                              priority=str(priority), key=step.get("concurrency_key"),
                              chunks=items[step["step"]].chunks if step["step"] in items else 0))
    return dag_build(specs, owner=owner)


class ItemStep:
    """An item step's checked items and the chunk size they are cut by (as POST /jobs with items cuts them)."""

    def __init__(self, step: dict):
        job_type = job_type_get(step["type"])
        self.asked = int(step.get("chunk_size") or job_type.items.chunk_size)
        self.source: ItemsSource = items_inline(type=step["type"], values=step["items"],
                                                on_invalid=step.get("on_invalid") or "reject")
        if self.source.total == 0:
            raise InvalidPayload({"items": ["Give at least one item."]})
        self.size = chunk_size_for(total=self.source.total, chunk_size=self.asked)
        self.chunks = len(inline_cuts(self.source.values, self.size))  # what the graph records; the job's build cuts them


def item_steps(steps: list[dict]) -> dict[str, ItemStep]:
    """Every item step's items checked (each bad one listed under `steps.<name>.items`, as POST /jobs lists them)."""
    found, errors = {}, {}
    for step in steps:
        if step.get("items") is None:
            continue
        try:
            found[step["step"]] = ItemStep(step)
        except (InvalidItems, InvalidPayload) as exc:
            for field, messages in exc.errors.items():
                errors[f"steps.{step['step']}.{field}"] = list(messages)
    if errors:
        raise InvalidWorkflow(errors)
    return found


def step_job(*, workflow_id: str, workflow_name: str, graph: Graph, index: int, step: dict, owner: str, hooks: dict,
              items: dict[str, ItemStep], chunks: list[Chunk]) -> Job:
    """A step's job, WAITING; an item step's chunks (PENDING, unpublished until its release) go into `chunks`."""
    node = graph.steps[index]
    job_id, name = step_job_id(workflow_id, index), f"{workflow_name} · {node.name}"[:200]
    if node.name in items and not node.is_callback:
        spec = items[node.name]
        job, its_chunks = item_job_build(
            job_id=job_id, owner=owner, name=name, type=node.type, payload=step.get("payload") or {}, source=spec.source,
            size=spec.size, asked=spec.asked, status=JobStatus.WAITING, max_failed_ratio=step.get("max_failed_ratio"),
            priority=node.priority, concurrency_key=step.get("concurrency_key"))
        chunks.extend(its_chunks)
    else:
        job = job_build(job_id=job_id, owner=owner, name=name, type=node.type, payload=step.get("payload") or {},
                        priority=node.priority, concurrency_key=step.get("concurrency_key"))
    parents = [graph.steps[p].name for p in node.parents]
    if node.is_callback:
        waits = "the workflow's end"
    else:
        waits = ", ".join(parents) if parents else "the workflow's start"
    job.status = JobStatus.WAITING
    what = (f" {items[node.name].source.total} items in {items[node.name].chunks} chunks;"
            if node.name in items and not node.is_callback else "")
    job.timeline = [entry("submitted", status=JobStatus.WAITING,
                          message=f"Step {node.name} of workflow {workflow_name!r}, submitted by {owner}:{what} waits for"
                                  f" {waits}.")]
    job.workflow_id, job.step_name, job.step_index = workflow_id, node.name, index
    job.on_parent_failure = node.on_parent_failure
    # A first step waits for the workflow's start, a callback for its end: one "parent" each.
    job.pending_parents = len(node.parents) or 1
    return webhooks.hooks_apply(job, hooks)
