"""What a step's final write carries: its first targets told in the same transaction, a cursor for the rest, and what follows the commit."""

from dataclasses import dataclass, field

from jobs.services.workflows.graphs import graph_of, steps_publish
from jobs.services.workflows.links import steps_tell_rest
from jobs.services.workflows.release import INLINE, bits_of, marker_actions, targets_of, tell
from jobs.states import JobStatus, Transition, is_final


@dataclass
class StepEnd:
    actions: list = field(default_factory=list)  # on the step's own item, in its write
    also: list = field(default_factory=list)  # operations on its targets, in the same transaction
    after_commit: list = field(default_factory=list)  # publish what it released, tell the rest


def step_end(*, job, transition: Transition) -> StepEnd | None:
    """For a write that ends a workflow's step (`job` as its writer read it): what rides along. None for other writes.

    Up to INLINE targets are told in the write's own transaction; with more, the
    step carries a cursor (in the same write) and the rest is told in links right
    after the commit (jobs.services.workflows.links), or by recovery. A step ended
    by another step's transaction (WAITING -> CANCELED) got its cursor there.
    """
    if job is None or not getattr(job, "workflow_id", None) or not is_final(transition.target):
        return None
    if JobStatus.WAITING in transition.sources:
        return None
    graph = graph_of(job.workflow_id)
    step = graph.steps[int(job.step_index)]
    targets = targets_of(graph, step)
    if not targets:
        return None
    told = tell(workflow_id=job.workflow_id, graph=graph, targets=targets[:INLINE], source=step.name,
                bits=bits_of(status=transition.target, upstream_failed=job.upstream_failed,
                             upstream_canceled=job.upstream_canceled))
    rest = len(targets) > INLINE
    later = [job.job_id] if rest else []
    workflow_id, released, ended = job.workflow_id, list(told.released), list(told.ended)

    def publish():
        steps_publish(workflow_id=workflow_id, graph=graph, indices=released)

    def tell_rest():
        steps_tell_rest(later + ended)

    return StepEnd(actions=marker_actions(start=INLINE) if rest else [], also=told.ops,
                   after_commit=[publish, *([tell_rest] if later or ended else [])])
