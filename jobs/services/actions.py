"""Actions of users and staff on any job: cancel, retry, requeue; an item job's reach its chunks too."""

from jobs import metrics
from jobs.exceptions import JobMovedMeanwhile, JobStateConflict, StoreUnavailable
from jobs.services.items.actions import chunks_cancel_unstarted, job_retry_items
from jobs.services.jobs.actions import job_cancel_record, job_get_visible, job_requeue, job_requeue_final
from jobs.services.store import backoff_pause, logger
from jobs.states import CANCEL, JobStatus, can_retry
from jobs.tables import Job

__all__ = ["job_cancel", "job_requeue", "job_retry"]

# A job moves at most QUEUED -> PROCESSING -> final under a cancel: a few fresh reads always settle it.
CANCEL_ATTEMPTS = 5


def job_cancel(*, job_id: str, owner: str | None, actor: str) -> Job:
    """Cancel: SCHEDULED or QUEUED -> CANCELED at once; PROCESSING gets CancelRequested for its handler.

    `owner` limits the action to that user's jobs (None: staff). A final job raises
    JobStateConflict. One GetItem and one conditional UpdateItem; a SCHEDULED item
    job's chunks (never queued) are stopped in the store as well. A job that moves
    between the read and the write (a worker claims it, a retry's claim) is read
    again and the cancel decided again, up to CANCEL_ATTEMPTS times: the caller
    gets a 409 only when the job is final, not because a worker was quick.
    """
    for attempt in range(1, CANCEL_ATTEMPTS + 1):
        job = job_get_visible(job_id=job_id, owner=owner)
        was = job.status
        try:
            transition = job_cancel_record(job=job, actor=actor)
            break
        except JobMovedMeanwhile:
            if attempt == CANCEL_ATTEMPTS:
                raise
            logger.info("job %s moved while being canceled (was %s); reading it again", job_id, was)
            backoff_pause(attempt)
    if transition is CANCEL:
        metrics.JOBS_CANCELED.labels(type=job.type).inc()
        if was == JobStatus.SCHEDULED and job.chunks_total is not None:
            try:
                chunks_cancel_unstarted(job=job)
            except StoreUnavailable:
                logger.warning("job %s: its chunks stay PENDING (the store did not answer); a retry cannot run them", job.job_id)
    return job


def job_retry(*, job_id: str, owner: str | None, actor: str) -> Job:
    """Re-queue a FAILED or CANCELED job: same id, timeline kept, a fresh budget of attempts.

    An item job re-runs only its chunks with failed items (jobs.services.items.actions).
    One GetItem, one conditional UpdateItem, one SendMessage. Other states, and a workflow's
    step (retried with its workflow), JobStateConflict.
    """
    job = job_get_visible(job_id=job_id, owner=owner)
    if job.workflow_id:
        # Alone it would run again without what depends on it (its children were ended with it).
        raise JobStateConflict(
            f"Job {job_id} is step {job.step_name!r} of workflow {job.workflow_id}: retry the workflow"
            f" (POST /workflows/{job.workflow_id}/retry), which runs it again and every step below it.",
            extra={"job_status": job.status, "workflow_id": job.workflow_id},
        )
    if job.chunks_total is not None:
        return job_retry_items(job=job, actor=actor)
    if not can_retry(job.status):
        raise JobStateConflict(
            f"Job {job_id} is {job.status}; only FAILED or CANCELED jobs can be retried.", extra={"job_status": job.status}
        )
    job_requeue_final(job=job, event="retried", message=f"Retry requested by {actor}.")
    metrics.JOBS_RETRIED.labels(type=job.type, by="user").inc()
    return job
