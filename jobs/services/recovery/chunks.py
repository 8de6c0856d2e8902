"""Recovery of item jobs: a chunk whose worker died runs again alone, a chunk whose message was lost is queued again, a job whose last chunk's worker died before ending it is ended."""

import time

from pynamodb.exceptions import UpdateError

from jobs.exceptions import QueueUnavailable
from jobs.services import publishing
from jobs.services.store import allowed_by, is_condition_failure, logger, moves_to
from jobs.services.items.chunks import job_items_finish_if_done
from jobs.states import CHUNK_LEASE_EXPIRED, ChunkStatus, JobStatus
from jobs.tables import CHUNK_SK_PREFIX, Chunk, Job


def item_jobs_recover(*, report, stale_seconds: int, limit: int) -> None:
    """One pass over QUEUED and PROCESSING item jobs; every change is conditional (safe on many machines)."""
    now = time.time()
    for status in (JobStatus.QUEUED, JobStatus.PROCESSING):
        for job in Job.status_index.query(status, filter_condition=Job.chunks_total.exists(), limit=limit):
            if int(job.chunks_done or 0) >= int(job.chunks_total or 0):
                if job_items_finish_if_done(job_id=job.job_id):
                    report.items_ended.append(job.job_id)
                continue
            _chunks_recover(job=job, report=report, now=now, stale_seconds=stale_seconds)


def _chunks_recover(*, job: Job, report, now: float, stale_seconds: int) -> None:
    unfinished = Chunk.chunk_status.is_in(ChunkStatus.PENDING, ChunkStatus.PROCESSING)
    requeue = []
    for chunk in Chunk.query(job.job_id, Chunk.sk.startswith(CHUNK_SK_PREFIX), filter_condition=unfinished):
        label = f"{job.job_id}#{int(chunk.number)}"
        if chunk.chunk_status == ChunkStatus.PROCESSING and (chunk.lease_expires_at or 0) < now:
            if _lease_expired(chunk=chunk, now=now):
                report.chunks_requeued.append(label)
                requeue.append(int(chunk.number))
        elif chunk.chunk_status == ChunkStatus.PENDING and (chunk.available_at or 0) < now - stale_seconds:
            if _mark_republished(chunk=chunk, now=now):
                report.chunks_republished.append(label)
                requeue.append(int(chunk.number))
    if requeue:
        try:
            publishing.chunks_publish(job_id=job.job_id, numbers=requeue, **publishing.job_route(job))
        except QueueUnavailable:
            logger.warning("recovery: chunks of job %s still cannot be published", job.job_id)


def _lease_expired(*, chunk: Chunk, now: float) -> bool:
    """PROCESSING -> PENDING for a chunk whose lease ran out (its worker died), conditional on that very claim."""
    try:
        chunk.update(
            actions=[*moves_to(CHUNK_LEASE_EXPIRED), Chunk.available_at.set(int(now)), Chunk.claim_token.remove(),
                     Chunk.lease_expires_at.remove()],
            condition=allowed_by(CHUNK_LEASE_EXPIRED) & (Chunk.claim_token == chunk.claim_token)
            & (Chunk.lease_expires_at < int(now)),
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    logger.info("recovery: chunk %s#%s lease of %s expired; queued again", chunk.job_id, int(chunk.number), chunk.lease_owner)
    return True


def _mark_republished(*, chunk: Chunk, now: float) -> bool:
    """A PENDING chunk not picked up in time: bump AvailableAt (conditional, so one recoverer republishes it)."""
    try:
        chunk.update(
            actions=[Chunk.available_at.set(int(now))],
            condition=(Chunk.chunk_status == ChunkStatus.PENDING) & (Chunk.available_at == chunk.available_at),
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
