"""Delayed jobs stored SCHEDULED: released to the queue when due (the scheduler) or at once (run now); an item job's chunks go out together."""

import time

from pynamodb.exceptions import PynamoDBConnectionError, QueryError

from jobs.exceptions import JobStateConflict, QueueUnavailable
from jobs.services import publishing
from jobs.services.jobs.actions import job_get_visible
from jobs.services.jobs.transitions import job_write
from jobs.services.store import allowed_by, append, entry, logger, moves_to, store_error, utcnow
from jobs.states import RELEASE_DUE, RUN_NOW, Transition
from jobs.tables import DUE_SHARD, Job


def _release(*, job: Job, transition: Transition, message: str, now: float) -> bool:
    """SCHEDULED -> QUEUED (conditional: one of several schedulers wins), then publish with the rest of the delay."""
    stamp = utcnow()
    actions = [
        *moves_to(transition),
        Job.due_shard.remove(),
        Job.available_at.set(max(int(now), int(job.due_at or 0)) if transition is RELEASE_DUE else int(now)),
        Job.updated_at.set(stamp),
        Job.version.add(1),
        append(entry(transition.name, status=transition.target, message=message)),
    ]
    try:
        if not job_write(job, transition, actions, allowed_by(transition)):
            return False  # another scheduler released it, or it was canceled meanwhile
    except Exception as exc:
        raise store_error(exc) from exc
    remaining = max(0, int(job.due_at or 0) - int(now)) if transition is RELEASE_DUE else 0
    try:
        if job.chunks_total is not None:  # an item job: a message per chunk (written PENDING at submission)
            publishing.chunks_publish_all(job_id=job.job_id, chunks_total=job.chunks_total, delay_seconds=remaining, **publishing.job_route(job))
        else:
            publishing.job_publish(job_id=job.job_id, delay_seconds=remaining, **publishing.job_route(job))
    except QueueUnavailable:
        pass  # QUEUED now: the recovery pass publishes it (or its chunks)
    return True


def jobs_release_due(*, now: float | None = None, ahead_seconds: int = 0, limit: int = 100) -> list[str]:
    """Release every SCHEDULED job due by `now` + `ahead_seconds` (one Query on the due index).

    `ahead_seconds` (up to the SQS delay limit) lets the rest of the wait ride on
    the message's SQS delay. Returns the ids released by this caller.
    """
    now = time.time() if now is None else now
    released = []
    try:
        due = list(Job.due_index.query(DUE_SHARD, Job.due_at <= int(now + ahead_seconds), limit=limit))
    except (QueryError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc
    for job in due:
        if _release(job=job, transition=RELEASE_DUE, message="Due: published by the scheduler.", now=now):
            released.append(job.job_id)
    if released:
        logger.info("released %d due jobs: %s", len(released), released)
    return released


def job_run_now(*, job_id: str, owner: str | None, actor: str) -> Job:
    """Publish a SCHEDULED job now instead of at its due time. Other states: JobStateConflict."""
    job = job_get_visible(job_id=job_id, owner=owner)
    if not RUN_NOW.allows(job.status):
        raise JobStateConflict(
            f"Job {job_id} is {job.status}; only SCHEDULED jobs can be run now.", extra={"job_status": job.status}
        )
    if not _release(job=job, transition=RUN_NOW, message=f"Run now by {actor}.", now=time.time()):
        raise JobStateConflict(f"Job {job_id} changed state meanwhile; try again.")
    job.refresh(consistent_read=True)
    return job
