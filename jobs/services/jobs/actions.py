"""A job's own record moved by users, staff and recovery: cancel, requeue of a final job, republish of a waiting one.

Each is one conditional write on the status (and, where the timeline may be
rewritten, the version) that was read, carrying its transition's effects. Which
action an item job takes on its chunks is decided above (jobs.services.actions).
"""

from datetime import timedelta

from django.conf import settings
from pynamodb.exceptions import PynamoDBConnectionError

from jobs.exceptions import JobMovedMeanwhile, JobNotFound, JobStateConflict, StoreUnavailable
from jobs.services import publishing
from jobs.services.jobs.transitions import job_write
from jobs.services.store import allowed_by, append, entry, logger, moves_to, store_error, timeline_add, utcnow
from jobs.states import CANCEL, REPUBLISH, REQUEST_CANCEL, RETRY, JobStatus, Transition, can_cancel
from jobs.tables import JOB_SK, Job


def job_get_visible(*, job_id: str, owner: str | None) -> Job:
    """The job (consistent read) if `owner` may see it (None: staff); JobNotFound otherwise."""
    try:
        job = Job.get(job_id, JOB_SK, consistent_read=True)
    except Job.DoesNotExist:
        raise JobNotFound(f"No job {job_id}.") from None
    except PynamoDBConnectionError as exc:
        raise store_error(exc) from exc
    if owner is not None and job.owner != owner:
        raise JobNotFound(f"No job {job_id}.")
    return job


def _write(job: Job, transition: Transition, actions: list, condition) -> bool:
    try:
        return job_write(job, transition, actions, condition)
    except StoreUnavailable:
        raise
    except Exception as exc:
        raise store_error(exc) from exc


def job_cancel_record(*, job: Job, actor: str) -> Transition:
    """Cancel the job as read: SCHEDULED or QUEUED -> CANCELED at once; PROCESSING gets CancelRequested.

    Returns the transition written; JobStateConflict when the job is final, JobMovedMeanwhile
    (a JobStateConflict) when it moved between the read and the write.
    """
    if not can_cancel(job.status):
        raise JobStateConflict(f"Job {job.job_id} is {job.status} and cannot be canceled.", extra={"job_status": job.status})
    now = utcnow()
    if CANCEL.allows(job.status):
        transition, actions = CANCEL, [
            Job.finished_at.set(now),
            Job.due_shard.remove(),  # a SCHEDULED job leaves the due index
            append(entry("canceled", status=CANCEL.target, message=f"Canceled by {actor} before it ran.")),
        ]
    elif job.cancel_requested:
        return REQUEST_CANCEL  # asked already: written once, however often it is asked
    else:
        # Not conditional on the version: a running job writes progress every second.
        transition, actions = REQUEST_CANCEL, [
            Job.cancel_requested.set(True),
            append(entry("cancel_requested", status=REQUEST_CANCEL.target, message=f"Cancel requested by {actor}.")),
        ]
    actions = [*moves_to(transition), *actions, Job.updated_at.set(now), Job.version.add(1)]
    if not _write(job, transition, actions, allowed_by(transition, status=job.status)):
        # It moved between our read and write (claimed or finished): the caller may try again.
        raise JobMovedMeanwhile(f"Job {job.job_id} changed state while being canceled; try again.")
    logger.info("job %s cancel by %s (was %s)", job.job_id, actor, job.status)
    return transition


def job_requeue_final(*, job: Job, event: str, message: str) -> None:
    """A final job (as read) back to QUEUED with a fresh budget of attempts, then publish it.

    Conditional on the status and version that were read (JobStateConflict if it moved).
    The timeline is compacted here when it has grown long (the version guards the rewrite).
    """
    now = utcnow()
    actions = [
        *moves_to(RETRY),
        Job.max_attempts.set(int(job.attempts) + settings.BATCHLAB_MAX_ATTEMPTS),
        Job.available_at.set(int(now.timestamp())),
        Job.cancel_requested.set(False),
        Job.error.remove(),
        Job.result.remove(),
        Job.finished_at.remove(),
        Job.lease_owner.remove(),
        Job.claim_token.remove(),
        Job.lease_expires_at.remove(),
        Job.republished.remove(),
        Job.progress_done.set(0),
        Job.updated_at.set(now),
        Job.version.add(1),
        Job.expires_at.set(timedelta(days=settings.BATCHLAB_RETENTION_DAYS)),
        timeline_add(job, entry(event, status=RETRY.target, message=message)),
    ]
    if not _write(job, RETRY, actions, allowed_by(RETRY, status=job.status) & (Job.version == job.version)):
        raise JobStateConflict(f"Job {job.job_id} changed state meanwhile; try again.")
    logger.info("job %s %s: %s", job.job_id, event, message)
    publishing.job_publish(job_id=job.job_id, **publishing.job_route(job))


def job_requeue(*, job_id: str, actor: str) -> Job:
    """Staff: publish a QUEUED job's message again (e.g. after its message was lost).

    Safe at any time: a duplicate message never runs the job twice.
    """
    job = job_get_visible(job_id=job_id, owner=None)
    if job.chunks_total is not None:
        raise JobStateConflict(f"Job {job_id} is an item job; the recovery pass requeues its chunks.")
    if not REPUBLISH.allows(job.status):
        raise JobStateConflict(f"Job {job_id} is {job.status}; only QUEUED jobs can be requeued.", extra={"job_status": job.status})
    job_republish(job=job, message=f"Requeued by {actor}.")
    return job


def job_republish(*, job: Job, message: str) -> bool:
    """Mark a QUEUED job republished (conditional, so one of several recoverers wins), then publish.

    False when the job moved since it was read (nothing published).
    """
    now = utcnow()
    actions = [
        Job.available_at.set(int(now.timestamp())),
        Job.republished.add(1),
        Job.updated_at.set(now),
        Job.version.add(1),
        timeline_add(job, entry("republished", status=JobStatus.QUEUED, message=message)),
    ]
    if not _write(job, REPUBLISH, actions, allowed_by(REPUBLISH) & (Job.version == job.version)):
        return False
    publishing.job_publish(job_id=job.job_id, **publishing.job_route(job))
    return True
