"""Actions on an item job: retry re-runs only the chunks with failed items (or stopped by a cancel); a cancel before its chunks went out stops them."""

from pynamodb.exceptions import PynamoDBConnectionError, TransactWriteError
from pynamodb.transactions import TransactWrite

from jobs.exceptions import JobStateConflict, NotAnItemJob
from jobs.services import publishing
from jobs.services.store import allowed_by, append, entry, is_condition_failure, logger, moves_to, store_error, utcnow
from jobs.states import CHUNK_RETRY, CHUNK_STOP, RETRY_ITEMS, ChunkStatus, can_retry_items
from jobs.tables import CHUNK_SK_PREFIX, Chunk, Job

# TransactWriteItems takes 100 items: the job and 99 chunks.
TRANSACTION_CHUNKS = 99


def chunks_to_retry(*, job_id: str) -> list[Chunk]:
    """Chunks with failed items, or stopped by a cancel (one Query of the job's partition)."""
    condition = (Chunk.failed > 0) | (Chunk.chunk_status == ChunkStatus.CANCELED)
    return list(Chunk.query(job_id, Chunk.sk.startswith(CHUNK_SK_PREFIX), filter_condition=condition, consistent_read=True))


def job_retry_items(*, job: Job, actor: str) -> Job:
    """Re-queue the chunks of a final item job that have failed items (or were canceled); the job goes back to QUEUED.

    The job's status (conditional on the one read, and its version) and the
    chunks (DONE/CANCELED -> PENDING) change in TransactWriteItems of up to 99
    chunks each; ChunksDone goes down by as many. The item counters stay as they
    are until each chunk finishes again (it moves them by its own difference).
    Messages go out after every transaction (SendMessageBatch of 10).
    """
    if job.chunks_total is None:
        raise NotAnItemJob(f"Job {job.job_id} has no items.")
    if not can_retry_items(job.status):
        raise JobStateConflict(f"Job {job.job_id} is {job.status}; only a finished job can be retried.", extra={"job_status": job.status})
    try:
        chunks = chunks_to_retry(job_id=job.job_id)
    except PynamoDBConnectionError as exc:
        raise store_error(exc) from exc
    if not chunks:
        raise JobStateConflict(f"Job {job.job_id} has no failed items to retry.", extra={"job_status": job.status})
    now = utcnow()
    failed = sum(int(c.failed or 0) for c in chunks)
    message = f"Retry of {failed} failed items in {len(chunks)} chunks requested by {actor}."
    for start in range(0, len(chunks), TRANSACTION_CHUNKS):
        group = chunks[start:start + TRANSACTION_CHUNKS]
        job_actions = [Job.chunks_done.add(-len(group)), Job.updated_at.set(now), Job.version.add(1)]
        condition = Job.job_id.exists()
        if start == 0:
            job_actions += [
                *moves_to(RETRY_ITEMS), Job.cancel_requested.set(False), Job.error.remove(), Job.result.remove(),
                Job.finished_at.remove(), append(entry("retried", status=RETRY_ITEMS.target, message=message)),
            ]
            condition = allowed_by(RETRY_ITEMS, status=job.status) & (Job.version == job.version)
        try:
            with TransactWrite(connection=Job._get_connection().connection) as transaction:
                transaction.update(Job(job.job_id), actions=job_actions, condition=condition)
                for chunk in group:
                    transaction.update(chunk, actions=[*moves_to(CHUNK_RETRY), Chunk.available_at.set(int(now.timestamp()))],
                                       condition=allowed_by(CHUNK_RETRY, status=chunk.chunk_status))
        except TransactWriteError as exc:
            if is_condition_failure(exc):
                raise JobStateConflict(f"Job {job.job_id} changed state meanwhile; try again.") from None
            raise store_error(exc) from exc
    logger.info("job %s: %s", job.job_id, message)
    publishing.chunks_publish(job_id=job.job_id, numbers=[int(c.number) for c in chunks], **publishing.job_route(job))
    job.refresh(consistent_read=True)
    return job


def chunks_cancel_unstarted(*, job: Job) -> int:
    """Stop the chunks of a canceled item job that were never queued (it was SCHEDULED): PENDING -> CANCELED.

    What a worker does with each chunk of a canceled job, without a message and a
    claim per chunk: TransactWriteItems of the job (ChunksDone up by as many) and 99
    chunks. A retry then runs them. Returns the chunks stopped.
    """
    pending = list(Chunk.query(job.job_id, Chunk.sk.startswith(CHUNK_SK_PREFIX),
                               filter_condition=Chunk.chunk_status == ChunkStatus.PENDING, consistent_read=True))
    now = utcnow()
    for start in range(0, len(pending), TRANSACTION_CHUNKS):
        group = pending[start:start + TRANSACTION_CHUNKS]
        try:
            with TransactWrite(connection=Job._get_connection().connection) as transaction:
                transaction.update(Job(job.job_id), condition=Job.job_id.exists(),
                                   actions=[Job.chunks_done.add(len(group)), Job.updated_at.set(now), Job.version.add(1)])
                for chunk in group:
                    transaction.update(chunk, actions=[*moves_to(CHUNK_STOP), Chunk.finished_at.set(now)],
                                       condition=allowed_by(CHUNK_STOP, status=ChunkStatus.PENDING))
        except (TransactWriteError, PynamoDBConnectionError) as exc:
            raise store_error(exc) from exc
    return len(pending)
