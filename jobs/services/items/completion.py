"""An item job's own status, moved by its chunks: the first chunk claimed starts it, the chunk that finishes last ends it, once."""

from jobs.services.jobs.transitions import job_write
from jobs.services.store import allowed_by, append, entry, logger, moves_to, utcnow
from jobs.states import FAIL_ITEMS, FINISH_ITEMS, START_CHUNKS, STOP_ITEMS, JobStatus
from jobs.tables import JOB_SK, Job


def job_items_start(*, job: Job) -> bool:
    """QUEUED -> PROCESSING when its first chunk is claimed (conditional; a lost race is fine)."""
    now = utcnow()
    return job_write(job, START_CHUNKS, [
        *moves_to(START_CHUNKS), Job.started_at.set(now), Job.updated_at.set(now), Job.version.add(1),
        append(entry("started", status=START_CHUNKS.target, message="The first chunk was claimed.")),
    ], allowed_by(START_CHUNKS, status=JobStatus.QUEUED))


def job_items_finish_if_done(*, job_id: str) -> str | None:
    """End the job once every chunk is done: one consistent GetItem, and (last chunk only) one conditional write.

    COMPLETED, or FAILED when the failed share passes max_failed_ratio, or
    CANCELED after a cancel request. The write is conditional on the status read
    and ChunksDone = ChunksTotal, so of two chunks finishing together only one
    ends the job. Returns the new status, or None (not done, or ended by another).
    """
    job = Job.get(job_id, JOB_SK, consistent_read=True)
    if job.status not in (JobStatus.QUEUED, JobStatus.PROCESSING) or int(job.chunks_done or 0) < int(job.chunks_total or 0):
        return None
    if job.status == JobStatus.QUEUED and not job.cancel_requested:
        # Its chunks ran but its start was never recorded (a worker died in between): start it first.
        job_items_start(job=job)
        job = Job.get(job_id, JOB_SK, consistent_read=True)
    total, failed = int(job.items_total or 0), int(job.items_failed or 0)
    ratio = failed / total if total else 0.0
    counts = f"{int(job.items_succeeded or 0)} succeeded, {failed} failed, {int(job.items_skipped or 0)} skipped of {total}"
    if job.cancel_requested:
        transition, error, message = STOP_ITEMS, None, f"Stopped on request: {counts}."
    elif ratio > float(job.max_failed_ratio if job.max_failed_ratio is not None else 1.0):
        message = f"{failed} of {total} items failed ({ratio:.1%}), over max_failed_ratio {float(job.max_failed_ratio):g}."
        transition, error = FAIL_ITEMS, {"code": "too_many_failed_items", "message": message}
    else:
        transition, error, message = FINISH_ITEMS, None, f"All chunks done: {counts}."
    if not transition.allows(job.status):
        return None
    now = utcnow()
    actions = [
        *moves_to(transition), Job.finished_at.set(now), Job.updated_at.set(now),
        Job.progress_done.set(total), Job.progress_total.set(total), Job.version.add(1),
        Job.result.set({"items_total": total, "items_succeeded": int(job.items_succeeded or 0),
                        "items_failed": failed, "items_skipped": int(job.items_skipped or 0)}),
        append(entry(transition.name, status=transition.target, message=message)),
        Job.error.set(error) if error else Job.error.remove(),
    ]
    condition = allowed_by(transition, status=job.status) & (Job.chunks_done >= Job.chunks_total)
    if not job_write(job, transition, actions, condition):
        return None
    logger.info("job %s %s: %s", job_id, transition.target, message)
    return transition.target
