"""Actions of users and staff on one job: cancel, retry, requeue."""

from datetime import timedelta

from django.conf import settings
from pynamodb.exceptions import PynamoDBConnectionError, UpdateError

from jobs import metrics
from jobs.exceptions import JobNotFound, JobStateConflict, StoreUnavailable
from jobs.services import publishing, webhooks
from jobs.services.store import allowed_by, append, entry, is_condition_failure, logger, moves_to, store_error, utcnow
from jobs.services.items.actions import chunks_cancel_unstarted, job_retry_items
from jobs.states import CANCEL, REPUBLISH, REQUEST_CANCEL, RETRY, JobStatus, can_cancel, can_retry
from jobs.tables import JOB_SK, Job


def _get_visible(*, job_id: str, owner: str | None) -> Job:
    try:
        job = Job.get(job_id, JOB_SK, consistent_read=True)
    except Job.DoesNotExist:
        raise JobNotFound(f"No job {job_id}.") from None
    except PynamoDBConnectionError as exc:
        raise store_error(exc) from exc
    if owner is not None and job.owner != owner:
        raise JobNotFound(f"No job {job_id}.")
    return job


def job_cancel(*, job_id: str, owner: str | None, actor: str) -> Job:
    """Cancel: SCHEDULED or QUEUED -> CANCELED at once; PROCESSING gets CancelRequested for its handler.

    `owner` limits the action to that user's jobs (None: staff). A final job raises
    JobStateConflict. One GetItem and one conditional UpdateItem.
    """
    job = _get_visible(job_id=job_id, owner=owner)
    now = utcnow()
    if not can_cancel(job.status):
        raise JobStateConflict(f"Job {job_id} is {job.status} and cannot be canceled.", extra={"job_status": job.status})
    if CANCEL.allows(job.status):
        transition, actions = CANCEL, [
            Job.finished_at.set(now),
            Job.due_shard.remove(),  # a SCHEDULED job leaves the due index
            append(entry("canceled", status=CANCEL.target, message=f"Canceled by {actor} before it ran.")),
        ]
    else:
        transition, actions = REQUEST_CANCEL, [
            Job.cancel_requested.set(True),
            append(entry("cancel_requested", status=REQUEST_CANCEL.target, message=f"Cancel requested by {actor}.")),
        ]
    was = job.status
    event = webhooks.job_status_event(job=job, status=transition.target) if transition is CANCEL else webhooks.JobEvent(job_id)
    try:
        job.update(
            actions=[*moves_to(transition), *actions, *event.actions, Job.updated_at.set(now), Job.version.add(1)],
            condition=allowed_by(transition, status=job.status),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            # It moved between our read and write (claimed or finished): the caller may try again.
            raise JobStateConflict(f"Job {job_id} changed state while being canceled; try again.") from None
        raise store_error(exc) from exc
    event.committed()
    logger.info("job %s cancel by %s (was %s)", job_id, actor, was)
    if transition is CANCEL:
        metrics.JOBS_CANCELED.labels(type=job.type).inc()
        if was == JobStatus.SCHEDULED and job.chunks_total is not None:
            _chunks_stop(job)
    return job


def _chunks_stop(job: Job) -> None:
    """A SCHEDULED item job's chunks were never queued: mark them CANCELED, as workers do for a canceled QUEUED one."""
    try:
        chunks_cancel_unstarted(job=job)
    except StoreUnavailable:
        logger.warning("job %s: its chunks stay PENDING (the store did not answer); a retry cannot run them", job.job_id)


def job_retry(*, job_id: str, owner: str | None, actor: str) -> Job:
    """Re-queue a FAILED or CANCELED job: same id, timeline kept, a fresh budget of attempts.

    An item job re-runs only its chunks with failed items (jobs.services.items.actions).

    One GetItem, one conditional UpdateItem, one SendMessage. Other states: JobStateConflict.
    """
    job = _get_visible(job_id=job_id, owner=owner)
    if job.chunks_total is not None:
        return job_retry_items(job=job, actor=actor)
    if not can_retry(job.status):
        raise JobStateConflict(
            f"Job {job_id} is {job.status}; only FAILED or CANCELED jobs can be retried.", extra={"job_status": job.status}
        )
    job_requeue_final(job=job, event="retried", message=f"Retry requested by {actor}.")
    metrics.JOBS_RETRIED.labels(type=job.type, by="user").inc()
    return job


def job_requeue_final(*, job: Job, event: str, message: str) -> None:
    """A final job (as read) back to QUEUED with a fresh budget of attempts, then publish it.

    Conditional on the status and version that were read (JobStateConflict if it moved).
    """
    now = utcnow()
    try:
        job.update(
            actions=[
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
                Job.progress_done.set(0),
                Job.updated_at.set(now),
                Job.version.add(1),
                Job.expires_at.set(timedelta(days=settings.BATCHLAB_RETENTION_DAYS)),
                append(entry(event, status=RETRY.target, message=message)),
            ],
            condition=allowed_by(RETRY, status=job.status) & (Job.version == job.version),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise JobStateConflict(f"Job {job.job_id} changed state meanwhile; try again.") from None
        raise store_error(exc) from exc
    logger.info("job %s %s: %s", job.job_id, event, message)
    publishing.job_publish(job_id=job.job_id, **publishing.job_route(job))


def job_requeue(*, job_id: str, actor: str) -> Job:
    """Staff: publish a QUEUED job's message again (e.g. after its message was lost).

    Safe at any time: a duplicate message never runs the job twice.
    """
    job = _get_visible(job_id=job_id, owner=None)
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
    try:
        job.update(
            actions=[
                Job.available_at.set(int(now.timestamp())),
                Job.updated_at.set(now),
                Job.version.add(1),
                append(entry("republished", status=JobStatus.QUEUED, message=message)),
            ],
            condition=allowed_by(REPUBLISH) & (Job.version == job.version),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    publishing.job_publish(job_id=job.job_id, **publishing.job_route(job))
    return True
