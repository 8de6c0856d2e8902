"""Chunks of an item job, the worker's writes: claim with a lease, renew it, finish with the job's counters in one transaction; the job's start and its one completion.

A chunk is claimed like a job (a conditional UpdateItem recording a lease and a
fencing token). Its finish is one TransactWriteItems: the chunk PROCESSING ->
DONE (fenced by the token) and the job's counters ADDed by exactly what this run
changed. A duplicate or redelivered message finds the chunk DONE and is refused
at the claim, so counters never move twice. The chunk that finishes last sees
ChunksDone = ChunksTotal and ends the job with a write conditional on exactly
that, so the job ends once.
"""

import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from jobs.services import webhooks
from jobs.services.store import allowed_by, append, entry, is_condition_failure, logger, moves_to, utcnow
from jobs.services.jobs.transitions import LeaseLost
from jobs.states import (
    CHUNK_CLAIM,
    CHUNK_FINISH,
    CHUNK_HEARTBEAT,
    FAIL_ITEMS,
    FINISH_ITEMS,
    START_CHUNKS,
    STOP_ITEMS,
    ChunkStatus,
    JobStatus,
    Transition,
    is_chunk_final,
)
from jobs.tables import JOB_SK, Chunk, Job, chunk_sk


@dataclass
class ChunkClaim:
    """What a worker holds while it runs a chunk: the chunk as claimed and the fencing token."""

    chunk: Chunk
    token: str
    worker: str

    @property
    def label(self) -> str:
        return f"{self.chunk.job_id}#{int(self.chunk.number)}"


def _lease_deadline() -> int:
    return int(time.time()) + settings.BATCHLAB_LEASE_SECONDS


def chunk_claim(*, job_id: str, number: int, worker: str, actions: tuple = ()) -> ChunkClaim | str:
    """Claim chunk `number`: PENDING -> PROCESSING, or take over an expired lease.

    One conditional UpdateItem returning the chunk. Refused: one GetItem says why,
    "missing", "final" (DONE or CANCELED: a duplicate message) or "busy".
    """
    token = uuid.uuid4().hex
    chunk = Chunk(job_id, chunk_sk(number))
    lease_free = (Chunk.chunk_status != ChunkStatus.PROCESSING) | (Chunk.lease_expires_at < int(time.time()))
    try:
        chunk.update(
            actions=[
                *moves_to(CHUNK_CLAIM),
                Chunk.attempts.add(1),
                Chunk.started_at.set(utcnow()),
                Chunk.lease_owner.set(worker),
                Chunk.claim_token.set(token),
                Chunk.lease_expires_at.set(_lease_deadline()),
                *actions,  # flow control's, in the same write (jobs.services.flow.gate)
            ],
            condition=Chunk.sk.exists() & allowed_by(CHUNK_CLAIM) & lease_free,
        )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        try:
            seen = Chunk.get(job_id, chunk_sk(number), consistent_read=True)
        except Chunk.DoesNotExist:
            return "missing"
        return "final" if is_chunk_final(seen.chunk_status) else "busy"
    return ChunkClaim(chunk=chunk, token=token, worker=worker)


def chunk_heartbeat(*, claim: ChunkClaim) -> None:
    """Renew the chunk's lease (one fenced UpdateItem); LeaseLost if another worker took it over."""
    try:
        claim.chunk.update(
            actions=[Chunk.lease_expires_at.set(_lease_deadline())],
            condition=allowed_by(CHUNK_HEARTBEAT) & (Chunk.claim_token == claim.token),
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise LeaseLost(f"chunk {claim.label}: the claim of {claim.worker} was taken over") from None
        raise


def chunk_finish(
    *, claim: ChunkClaim, outcomes: list | None, outcomes_object: str | None, counts: tuple[int, int, int],
    transition: Transition = CHUNK_FINISH,
) -> None:
    """PROCESSING -> DONE (or CANCELED: stopped by a cancel) and the job's counters, in one TransactWriteItems.

    `counts` are the chunk's (succeeded, failed, skipped) after this run; the job's
    counters move by the difference from what the chunk held when claimed, and
    ChunksDone by one. Fenced by the claim's token: LeaseLost if it was taken over.
    """
    chunk = claim.chunk
    old = (int(chunk.succeeded or 0), int(chunk.failed or 0), int(chunk.skipped or 0))
    delta = [new - before for new, before in zip(counts, old)]
    chunk_actions = [
        *moves_to(transition),
        Chunk.succeeded.set(counts[0]),
        Chunk.failed.set(counts[1]),
        Chunk.skipped.set(counts[2]),
        Chunk.finished_at.set(utcnow()),
        Chunk.lease_expires_at.remove(),
        Chunk.claim_token.remove(),
    ]
    chunk_actions.append(Chunk.outcomes.set(outcomes) if outcomes is not None else Chunk.outcomes.remove())
    if outcomes_object:
        chunk_actions.append(Chunk.outcomes_object.set(outcomes_object))
    job_actions = [
        Job.items_succeeded.add(delta[0]),
        Job.items_failed.add(delta[1]),
        Job.items_skipped.add(delta[2]),
        Job.chunks_done.add(1),
        Job.updated_at.set(utcnow()),
        Job.version.add(1),
    ]
    try:
        with TransactWrite(connection=Job._get_connection().connection) as transaction:
            transaction.update(chunk, actions=chunk_actions, condition=allowed_by(transition) & (Chunk.claim_token == claim.token))
            transaction.update(Job(chunk.job_id), actions=job_actions, condition=Job.job_id.exists())
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            raise LeaseLost(f"chunk {claim.label}: the claim of {claim.worker} was taken over") from None
        raise
    logger.info("chunk %s %s by %s: +%s succeeded +%s failed +%s skipped", claim.label, transition.target, claim.worker, *delta)


def job_items_start(*, job: Job) -> None:
    """QUEUED -> PROCESSING when its first chunk is claimed (conditional; a lost race is fine)."""
    now = utcnow()
    event = webhooks.job_status_event(job=job, status=START_CHUNKS.target)
    try:
        job.update(
            actions=[
                *event.actions,
                *moves_to(START_CHUNKS),
                Job.started_at.set(now),
                Job.updated_at.set(now),
                Job.version.add(1),
                append(entry("started", status=START_CHUNKS.target, message="The first chunk was claimed.")),
            ],
            condition=allowed_by(START_CHUNKS, status=JobStatus.QUEUED),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        return
    event.committed()


def job_items_finish_if_done(*, job_id: str) -> str | None:
    """End the job once every chunk is done: one consistent GetItem, and (last chunk only) one conditional UpdateItem.

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
    now = utcnow()
    actions = [
        *moves_to(transition),
        Job.finished_at.set(now),
        Job.updated_at.set(now),
        Job.progress_done.set(total),
        Job.progress_total.set(total),
        Job.version.add(1),
        Job.result.set({"items_total": total, "items_succeeded": int(job.items_succeeded or 0),
                        "items_failed": failed, "items_skipped": int(job.items_skipped or 0)}),
        append(entry(transition.name, status=transition.target, message=message)),
    ]
    actions.append(Job.error.set(error) if error else Job.error.remove())
    event = webhooks.job_status_event(job=job, status=transition.target)
    actions += event.actions
    try:
        job.update(
            actions=actions,
            condition=allowed_by(transition, status=job.status) & (Job.chunks_done >= Job.chunks_total),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return None
        raise
    event.committed()
    logger.info("job %s %s: %s", job_id, transition.target, message)
    return transition.target

