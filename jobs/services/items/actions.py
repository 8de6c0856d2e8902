"""Actions on an item job: retry re-runs only the chunks with failed items (or stopped by a cancel); a cancel before its chunks went out stops them; a workflow's retry resets a step's chunks."""

from collections.abc import Iterator

from django.conf import settings
from pynamodb.exceptions import PynamoDBConnectionError, PynamoDBException, TransactWriteError

from jobs.exceptions import JobStateConflict, NotAnItemJob
from jobs.services import publishing
from jobs.services.jobs.effects import transition_effects
from jobs.services.lease.claim import transact_write
from jobs.services.store import (
    Answer,
    allowed_by,
    entry,
    logger,
    moves_to,
    refusal_of,
    store_error,
    store_retry,
    timeline_add,
    utcnow,
)
from jobs.states import CHUNK_RETRY, CHUNK_STOP, RETRY_ITEMS, ChunkStatus, can_retry_items
from jobs.tables import CHUNK_SK_PREFIX, Chunk, Job

# TransactWriteItems takes 100 items: the job and 99 chunks.
TRANSACTION_CHUNKS = 99
# What a retry reads of each chunk: never its items or outcomes.
_KEYS = ["JobId", "SK", "ChunkNumber", "ChunkStatus", "Failed", "Attempts"]


def chunks_to_retry(*, job_id: str) -> Iterator[Chunk]:
    """Final chunks with failed items, or stopped by a cancel: their keys and counts only, page by page (a Query)."""
    final = Chunk.chunk_status.is_in(ChunkStatus.DONE, ChunkStatus.CANCELED)
    condition = final & ((Chunk.failed > 0) | (Chunk.chunk_status == ChunkStatus.CANCELED))
    return Chunk.query(job_id, Chunk.sk.startswith(CHUNK_SK_PREFIX), filter_condition=condition, consistent_read=True,
                       attributes_to_get=_KEYS)


def _groups(chunks: Iterator[Chunk]) -> Iterator[list[Chunk]]:
    group = []
    for chunk in chunks:
        group.append(chunk)
        if len(group) == TRANSACTION_CHUNKS:
            yield group
            group = []
    if group:
        yield group


def job_retry_items(*, job: Job, actor: str) -> Job:
    """Re-queue the chunks of a final item job that have failed items (or were canceled); the job goes back to QUEUED.

    The job's status (conditional on the one read, and its version) and the
    chunks (DONE/CANCELED -> PENDING, a fresh budget of attempts) change in
    TransactWriteItems of up to 99 chunks each, read and written a group at a time;
    ChunksDone goes down by as many. A chunk still unfinished (its job was canceled
    while it waited) is left as it is: its own message runs it. The item counters
    stay as they are until each chunk finishes again (it moves them by its own
    difference). The messages go out once every group is written.
    """
    if job.chunks_total is None:
        raise NotAnItemJob(f"Job {job.job_id} has no items.")
    if not can_retry_items(job.status):
        raise JobStateConflict(f"Job {job.job_id} is {job.status}; only a finished job can be retried.", extra={"job_status": job.status})
    now = utcnow()
    retried = failed = 0
    numbers: list[int] = []
    message = f"Retry of the failed items requested by {actor}."
    try:
        for group in _groups(chunks_to_retry(job_id=job.job_id)):
            first = retried == 0
            job_actions = [Job.chunks_done.add(-len(group)), Job.updated_at.set(now), Job.version.add(1)]
            condition = Job.job_id.exists() & (Job.status == RETRY_ITEMS.target)
            effects = None
            if first:
                effects = transition_effects(job_id=job.job_id, job=job, transition=RETRY_ITEMS)
                job_actions += [
                    *moves_to(RETRY_ITEMS), Job.cancel_requested.set(False), Job.error.remove(), Job.result.remove(),
                    Job.finished_at.remove(), timeline_add(job, entry("retried", status=RETRY_ITEMS.target, message=message)),
                    *effects.actions,
                ]
                condition = allowed_by(RETRY_ITEMS, status=job.status) & (Job.version == job.version)
            ops = [_chunk_retry(chunk, now) for chunk in group] + (effects.also if effects else [])
            try:
                store_retry(lambda: transact_write(Job(job.job_id), job_actions, condition, ops), what=f"retry of job {job.job_id}")
            except Exception as exc:
                if refusal_of(exc).answer is Answer.REFUSED:
                    if first:
                        raise JobStateConflict(f"Job {job.job_id} changed state meanwhile; try again.") from None
                    logger.warning("job %s: a group of chunks changed meanwhile and was left out of the retry", job.job_id)
                    continue
                raise
            if effects:
                effects.committed()
            retried += len(group)
            failed += sum(int(c.failed or 0) for c in group)
            numbers += [int(c.number) for c in group]
    except (TransactWriteError, PynamoDBConnectionError, PynamoDBException) as exc:
        raise store_error(exc) from exc
    # Sent once every group is written: a chunk that ran early could end the job before the rest were retried.
    # (Interrupted half-way, the written groups wait PENDING and recovery publishes them.)
    publishing.chunks_publish(job_id=job.job_id, numbers=numbers, **publishing.job_route(job))
    if not retried:
        raise JobStateConflict(f"Job {job.job_id} has no failed items to retry.", extra={"job_status": job.status})
    logger.info("job %s: retry of %s failed items in %s chunks by %s", job.job_id, failed, retried, actor)
    job.refresh(consistent_read=True)
    return job


def _chunk_retry(chunk: Chunk, now, *, every_item: bool = False):
    actions = [*moves_to(CHUNK_RETRY), Chunk.available_at.set(int(now.timestamp())),
               Chunk.max_attempts.set(int(chunk.attempts or 0) + settings.BATCHLAB_MAX_ATTEMPTS),
               Chunk.republished.remove()]
    # Every item again: no outcome kept (the counts stay: its finish moves the job's by the difference).
    actions += [Chunk.outcomes.remove(), Chunk.outcomes_object.remove(), Chunk.rerun_failed.remove()] if every_item \
        else [Chunk.rerun_failed.set(True)]
    return lambda tx: tx.update(chunk, actions=actions, condition=allowed_by(CHUNK_RETRY, status=chunk.chunk_status))


def chunks_rerun(*, job: Job, every_item: bool) -> int:
    """Make a final item job's chunks run again before its workflow's retry queues it; returns the chunks reset.

    The chunks with failed items and those stopped by a cancel (as job_retry_items
    picks them), or, `every_item`, every final chunk with no outcome kept (a step
    below a retried one: what its parents hand down changes). TransactWriteItems of
    the job (ChunksDone down by as many; conditional on its status as read: final)
    and 99 chunks; the job's status is its workflow's retry's to move. A chunk reset
    already (a retry cut short, tried again) is not picked again.
    """
    final = Chunk.chunk_status.is_in(ChunkStatus.DONE, ChunkStatus.CANCELED)
    picked = (Chunk.query(job.job_id, Chunk.sk.startswith(CHUNK_SK_PREFIX), filter_condition=final, consistent_read=True,
                          attributes_to_get=_KEYS) if every_item else chunks_to_retry(job_id=job.job_id))
    now, reset = utcnow(), 0
    try:
        for group in _groups(picked):
            actions = [Job.chunks_done.add(-len(group)), Job.updated_at.set(now)]
            ops = [_chunk_retry(chunk, now, every_item=every_item) for chunk in group]
            try:
                store_retry(lambda: transact_write(Job(job.job_id), actions, Job.status == job.status, ops),
                            what=f"chunks of job {job.job_id} for its workflow's retry")
            except Exception as exc:
                if refusal_of(exc).answer is Answer.REFUSED:
                    raise JobStateConflict(f"Job {job.job_id} changed meanwhile; try again.") from None
                raise
            reset += len(group)
    except (TransactWriteError, PynamoDBConnectionError, PynamoDBException) as exc:
        raise store_error(exc) from exc
    return reset


def chunks_cancel_unstarted(*, job: Job) -> int:
    """Stop the chunks of a canceled item job that were never queued (it was SCHEDULED): PENDING -> CANCELED.

    What a worker does with each chunk of a canceled job, without a message and a
    claim per chunk: TransactWriteItems of the job (ChunksDone up by as many) and 99
    chunks. A retry then runs them. Returns the chunks stopped.
    """
    pending = Chunk.query(job.job_id, Chunk.sk.startswith(CHUNK_SK_PREFIX), filter_condition=Chunk.chunk_status == ChunkStatus.PENDING,
                          consistent_read=True, attributes_to_get=_KEYS)
    now = utcnow()
    stopped = 0
    try:
        for group in _groups(pending):
            ops = [lambda tx, c=c: tx.update(c, actions=[*moves_to(CHUNK_STOP), Chunk.finished_at.set(now)],
                                            condition=allowed_by(CHUNK_STOP, status=ChunkStatus.PENDING)) for c in group]
            actions = [Job.chunks_done.add(len(group)), Job.updated_at.set(now), Job.version.add(1)]
            store_retry(lambda: transact_write(Job(job.job_id), actions, Job.job_id.exists(), ops), what=f"cancel of job {job.job_id}")
            stopped += len(group)
    except (TransactWriteError, PynamoDBConnectionError, PynamoDBException) as exc:
        raise store_error(exc) from exc
    return stopped
