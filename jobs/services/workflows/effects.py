"""What a step's final write carries, through the hook every job status change calls: its first targets told in the same transaction, a cursor for the rest, and what follows the commit."""

from jobs.services.jobs.effects import Effects
from jobs.services.workflows.graphs import graph_of, steps_publish
from jobs.services.workflows.links import steps_tell_rest
from jobs.services.workflows.release import INLINE, bits_of, marker_actions, targets_of, tell
from jobs.states import JobStatus, Transition, is_final


def step_end(*, job, transition: Transition, inline: int = INLINE) -> Effects | None:
    """For a write that ends a workflow's step (`job` as its writer read it): what rides along. None for other writes.

    Up to `inline` targets are told in the write's own transaction (`also`); with
    more, the step carries a cursor in the same write and the rest is told in
    links right after the commit (jobs.services.workflows.links), or by recovery.
    A step ended by another step's transaction (WAITING -> CANCELED) got its
    cursor there; a write that does not end a step carries nothing.
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
    told = tell(workflow_id=job.workflow_id, graph=graph, targets=targets[:inline], source=step.name,
                bits=bits_of(status=transition.target, upstream_failed=job.upstream_failed,
                             upstream_canceled=job.upstream_canceled))
    rest = len(targets) > inline
    later = [job.job_id] if rest else []
    workflow_id, released, ended, committed = job.workflow_id, list(told.released), list(told.ended), list(told.committed)

    def publish():
        steps_publish(workflow_id=workflow_id, graph=graph, indices=released)

    def tell_rest():
        steps_tell_rest(later + ended)

    return Effects(actions=marker_actions(start=inline) if rest else [], also=told.ops,
                   after_commit=[publish, *committed, *([tell_rest] if later or ended else [])])


def step_effects(*, job_id: str, job, transition: Transition, contended: bool = False) -> Effects | None:
    """The contributor to jobs.services.jobs.effects: a step's end, told inline; contended, all of it after the write.

    Contended (the writer's last try after its `also` kept being refused: other
    parents' ends moving the same children), the write carries only the cursor,
    which no other item can refuse, and its links tell every target after it.
    """
    return step_end(job=job, transition=transition, inline=0 if contended else INLINE)
