"""A workflow's header by key, and publishing the steps a write released."""

from types import SimpleNamespace

from jobs.dag import Graph, step_job_id
from jobs.exceptions import QueueUnavailable
from jobs.flow import flow_hints
from jobs.services import publishing
from jobs.services.store import logger
from jobs.selectors.workflows import graph_of
from jobs.tables import WORKFLOW_SK, Workflow

__all__ = ["graph_of", "header_read", "header_ref", "steps_publish"]


def header_ref(workflow_id: str) -> Workflow:
    """An unsaved header that names the workflow (for a write by key, with no read first)."""
    return Workflow(workflow_id, WORKFLOW_SK)


def header_read(workflow_id: str) -> Workflow:
    """The header as stored now (consistent GetItem); Workflow.DoesNotExist if none."""
    return Workflow.get(workflow_id, WORKFLOW_SK, consistent_read=True)


def steps_publish(*, workflow_id: str, graph: Graph, indices) -> None:
    """Queue the steps a write released: a payload step's id, or an item step's every chunk.

    Payload steps go ten to a SendMessageBatch per priority. A failure is logged:
    the steps are QUEUED, and recovery publishes a QUEUED job (or chunk) whose
    message never came.
    """
    by_priority: dict[str, list] = {}
    for index in indices:
        step = graph.steps[index]
        job_id = step_job_id(workflow_id, index)
        hints = flow_hints(SimpleNamespace(type=step.type, concurrency_key=step.key, owner=graph.owner,
                                                      priority=step.priority))
        try:
            if step.chunks:
                publishing.chunks_publish_all(job_id=job_id, chunks_total=step.chunks, priority=step.priority, flow=hints)
            else:
                by_priority.setdefault(step.priority, []).append((publishing.PROCESS_JOB_TASK, [job_id], job_id, {"flow": hints}))
        except QueueUnavailable:
            logger.warning("workflow %s: step %s released but not queued; recovery will queue it", workflow_id, step.name)
    for priority, messages in by_priority.items():
        try:
            publishing.tasks_publish(messages=messages, priority=priority)
        except QueueUnavailable:
            logger.warning("workflow %s: %s released steps not queued; recovery will queue them", workflow_id, len(messages))
