"""What a job's status change carries besides the change itself: the one hook every writer of a job's status calls.

Every write that moves a job from one status to another (the claim, complete,
fail, retry later, canceled, give up, cancel, retry, release, an item job's
start and end) asks `transition_effects` what rides along:

- `actions`: more update actions on the job item itself, in the same write
  (e.g. an event recorded in an outbox attribute: no event without its state);
- `also`: operations on other items in the same TransactWriteItems (e.g. a
  workflow child's pending-parent counter);
- `after_commit`: calls to make once the write is known applied (e.g. publish
  what the write released). A failure there is logged, never raised: the write
  stands, and recovery repairs what was not sent.

A feature adds one function to `CONTRIBUTORS`; the writers never learn about it.
What a contributor returns may rest on reads of other items (a workflow child's
counter): when one of its `also` conditions is refused, nothing was written, and
the writer asks again and writes again (`effects_write`); its last try asks for
the contended form (`contended=True`: no `also`, e.g. a cursor in the job's own
write and the rest told after it), which no other item can refuse.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from jobs.services import webhooks
from jobs.services.lease.claim import AlsoRefused
from jobs.states import CLAIM, JobStatus, Transition, is_final
from jobs.tables import Job

logger = logging.getLogger("jobs.services")


@dataclass
class Effects:
    actions: list = field(default_factory=list)
    also: list = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def add(self, other: "Effects") -> "Effects":
        self.actions += other.actions
        self.also += other.also
        self.after_commit += other.after_commit
        return self

    def committed(self) -> None:
        """The write applied: run what waits for it (each call on its own; a failure is logged)."""
        for call in self.after_commit:
            try:
                call()
            except Exception:  # the write stands; recovery repairs what a failed call left undone
                logger.exception("after a job's transition: %r failed", call)


def webhook_event(*, job_id: str, job, transition: Transition, contended: bool = False) -> Effects | None:
    """The job's webhook event of its new status, in its outbox, in the same write (jobs.services.webhooks.outbox).

    A move that keeps the status (a cancel request, a republish) is no event. The claim
    reads nothing before its write, so job.started is recorded just after it
    (jobs.services.jobs.transitions.job_claim).
    """
    if job is None or transition is CLAIM or transition.sources == {transition.target}:
        return None
    event = webhooks.job_status_event(job=job, status=transition.target)
    if not event.event_id:
        return None
    return Effects(actions=list(event.actions), after_commit=[event.committed])


def waiting_cleared(*, job_id: str, job, transition: Transition, contended: bool = False) -> Effects | None:
    """A QUEUED job that ends without a claim (canceled, given up) no longer waits: its WaitingFor goes in that write.

    (A claim clears it itself: jobs.services.flow.gate.) Else a retried job would show, and
    count in the metrics as, waiting for a pause or a limit that no longer holds it.
    """
    if JobStatus.QUEUED in transition.sources and is_final(transition.target):
        return Effects(actions=[Job.waiting_for.remove(), Job.waiting_since.remove()])
    return None


# Each contributor: (job_id, job or None when not read, transition, contended) -> Effects | None.
# Features below the jobs layer are listed here; one above it appends itself when its package is imported
# (jobs.services.workflows: a step's end tells its children).
CONTRIBUTORS: list[Callable[..., "Effects | None"]] = [webhook_event, waiting_cleared]

# A write whose `also` was refused is asked for and tried again this many times in all, the last
# one contended; full jitter below a doubling ceiling between tries (10 ms, 20 ms, ... 320 ms).
EFFECTS_TRIES = 7


def transition_effects(*, job_id: str, transition: Transition, job=None, contended: bool = False) -> Effects:
    """What rides along with `transition` of the job (`job` as the writer read it, None when it did not read it)."""
    effects = Effects()
    for contributor in CONTRIBUTORS:
        more = contributor(job_id=job_id, job=job, transition=transition, contended=contended)
        if more is not None:
            effects.add(more)
    return effects


def effects_write(*, job_id: str, transition: Transition, job, write: Callable[[Effects], None]) -> Effects:
    """`write(effects)` with the transition's effects, then run what follows its commit; returns the effects written.

    `write` raises AlsoRefused when the condition of one of the effects' `also`
    operations was false (nothing written: an item they read moved meanwhile):
    the effects are asked for again (read again) and written again, the last time
    contended. Every other failure of `write` is raised as it came.
    """
    for attempt in range(EFFECTS_TRIES):
        effects = transition_effects(job_id=job_id, job=job, transition=transition,
                                     contended=attempt == EFFECTS_TRIES - 1)
        try:
            write(effects)
        except AlsoRefused:
            if attempt == EFFECTS_TRIES - 1:
                raise
            logger.info("job %s: %s refused by an item it reads (try %s); asked again", job_id, transition.name, attempt + 1)
            time.sleep(random.uniform(0, 0.01 * 2 ** attempt))
            continue
        effects.committed()
        return effects
    raise AssertionError("unreachable")
