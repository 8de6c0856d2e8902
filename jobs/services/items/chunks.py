"""A chunk's writes: claim, renew with a checkpoint of its outcomes, finish with the job's counters in one transaction, retry later, give up; and its outcomes wherever they fit.

A chunk is claimed like a job (jobs.services.lease.claim). Its finish is one
TransactWriteItems: the chunk PROCESSING -> DONE (fenced by the token) and the
job's counters ADDed by exactly what this run changed; a conflict with another
chunk's finish on the same job item is tried again, never taken for a lost
lease. A duplicate message finds the chunk DONE and is refused at the claim, so
counters never move twice. The chunk's Succeeded/Failed/Skipped say what the
job's counters hold of it; its outcomes may run ahead of them (a checkpoint).

Outcomes are kept in the chunk item while the item stays small (its inline items
and outcomes together under BATCHLAB_CHUNK_MAX_BYTES + BATCHLAB_INLINE_OUTCOMES_BYTES),
else in S3 under a key of this run's own (its claim token): a run that lost its
lease never overwrites the winner's. Every write sets one of Outcomes and
OutcomesObject and removes the other, so a reader never sees a stale one.
"""

import time

from django.conf import settings

from jobs import objects
from jobs.services.lease.claim import Claim, Refused, fenced_write, lease_deadline, transact_write, unit_claim
from jobs.services.lease.units import CHUNK
from jobs.services.store import Answer, allowed_by, json_bytes, logger, moves_to, refusal_of, store_retry, truncate, utcnow
from jobs.states import CHUNK_FINISH, CHUNK_GIVE_UP, CHUNK_HEARTBEAT, CHUNK_RETRY_LATER, Transition
from jobs.tables import Chunk, Job


def chunk_claim(*, job_id: str, number: int, worker: str, actions: tuple = (), also: tuple = ()) -> Claim | Refused:
    """Claim chunk `number`: PENDING -> PROCESSING, or take over an expired lease, while attempts are left.

    `actions` and `also` (flow control's, jobs.services.flow.gate) ride in the claim's own write.
    """
    return unit_claim(kind=CHUNK, job_id=job_id, number=number, worker=worker, actions=actions, also=also)


def counts_of(outcomes: list) -> tuple[int, int, int]:
    """(succeeded, failed, skipped) of a chunk's outcomes."""
    succeeded = sum(1 for o in outcomes if o and "r" in o)
    failed = sum(1 for o in outcomes if o and "e" in o)
    skipped = sum(1 for o in outcomes if o and "s" in o)
    return succeeded, failed, skipped


def outcomes_actions(*, chunk: Chunk, token: str, outcomes: list) -> list:
    """The update actions that store `outcomes`: inline when the chunk item stays small, else in S3 (one PutObject)."""
    size = json_bytes(outcomes)
    room = settings.BATCHLAB_INLINE_OUTCOMES_BYTES
    if chunk.items is not None:
        room = min(room, settings.BATCHLAB_CHUNK_MAX_BYTES + settings.BATCHLAB_INLINE_OUTCOMES_BYTES
                   - int(chunk.items_bytes if chunk.items_bytes is not None else json_bytes(chunk.items)))
    # Outcomes written by a run reflect its rerun of the failed items already (jobs.services.items.runner).
    if size <= room:
        return [Chunk.outcomes.set(outcomes), Chunk.outcomes_object.remove(), Chunk.rerun_failed.remove()]
    key = f"outcomes/{chunk.job_id}/{int(chunk.number):06d}/{token}.json"
    objects.json_put(key=key, value=outcomes)
    return [Chunk.outcomes.remove(), Chunk.outcomes_object.set(key), Chunk.rerun_failed.remove()]


def chunk_checkpoint(*, claim: Claim, outcomes: list | None) -> None:
    """Renew the lease, with the outcomes so far when given (one fenced UpdateItem); LeaseLost if taken over."""
    actions = [Chunk.lease_expires_at.set(lease_deadline())]
    if outcomes is not None:
        actions += outcomes_actions(chunk=claim.unit, token=claim.token, outcomes=outcomes)
    fenced_write(claim, CHUNK_HEARTBEAT, actions)


def _job_counters(chunk: Chunk, counts: tuple[int, int, int]):
    """The `also` operation that moves the job's counters by what this chunk changed, and ChunksDone by one."""
    old = (int(chunk.succeeded or 0), int(chunk.failed or 0), int(chunk.skipped or 0))
    delta = [new - before for new, before in zip(counts, old)]
    actions = [
        Job.items_succeeded.add(delta[0]), Job.items_failed.add(delta[1]), Job.items_skipped.add(delta[2]),
        Job.chunks_done.add(1), Job.updated_at.set(utcnow()), Job.version.add(1),
    ]
    return delta, lambda tx: tx.update(Job(chunk.job_id), actions=actions, condition=Job.job_id.exists())


def chunk_finish(*, claim: Claim, outcomes: list, transition: Transition = CHUNK_FINISH) -> tuple[int, int, int]:
    """PROCESSING -> DONE (or CANCELED: stopped by a cancel) and the job's counters, in one TransactWriteItems.

    Returns how much the job's (succeeded, failed, skipped) moved. Fenced by the
    claim's token: LeaseLost if it was taken over. Conflicts and throttles are
    tried again (StoreBusy after every try).
    """
    chunk = claim.unit
    counts = counts_of(outcomes)
    delta, job_op = _job_counters(chunk, counts)
    actions = [
        *outcomes_actions(chunk=chunk, token=claim.token, outcomes=outcomes),
        Chunk.succeeded.set(counts[0]), Chunk.failed.set(counts[1]), Chunk.skipped.set(counts[2]),
        Chunk.finished_at.set(utcnow()), Chunk.lease_expires_at.remove(),
        # The token stays: a finish whose answer was lost is recognised by it.
    ]
    fenced_write(claim, transition, actions, also=[job_op])
    logger.info("chunk %s %s by %s: +%s succeeded +%s failed +%s skipped", claim.label, transition.target, claim.worker, *delta)
    return tuple(delta)


def chunk_retry_later(*, claim: Claim, outcomes: list, delay: float, reason: str) -> None:
    """PROCESSING -> PENDING, due again in `delay` seconds, with the outcomes so far (the rest runs then)."""
    fenced_write(claim, CHUNK_RETRY_LATER, [
        *outcomes_actions(chunk=claim.unit, token=claim.token, outcomes=outcomes),
        Chunk.available_at.set(int(time.time() + delay)), Chunk.lease_owner.remove(), Chunk.lease_expires_at.remove(),
    ])
    logger.info("chunk %s: %s; the rest of it runs again in %.0f s", claim.label, truncate(reason, 300), delay)


def unrun_failed(outcomes: list, *, code: str, message: str) -> list:
    """`outcomes` with every item not run yet (None) recorded as failed with {code, message}."""
    error = {"e": {"code": code, "message": truncate(message)}}
    return [error if o is None else o for o in outcomes]


def chunk_give_up(*, chunk: Chunk, outcomes: list, code: str, message: str, actions: list = ()) -> bool:
    """PENDING/PROCESSING -> DONE for a chunk nobody may run again: its unrun items fail, the job's counters move.

    Conditional on the status, attempts and token that were read (another
    recoverer, or a claim meanwhile, wins); one TransactWriteItems. False when it
    moved meanwhile.
    """
    if not CHUNK_GIVE_UP.allows(chunk.chunk_status):
        return False
    ended = unrun_failed(outcomes, code=code, message=message)
    counts = counts_of(ended)
    delta, job_op = _job_counters(chunk, counts)
    token = chunk.claim_token or "none"
    actions = [
        *moves_to(CHUNK_GIVE_UP), *actions, *outcomes_actions(chunk=chunk, token=f"{token}-ended", outcomes=ended),
        Chunk.succeeded.set(counts[0]), Chunk.failed.set(counts[1]), Chunk.skipped.set(counts[2]),
        Chunk.finished_at.set(utcnow()), Chunk.lease_expires_at.remove(),
    ]
    condition = allowed_by(CHUNK_GIVE_UP, status=chunk.chunk_status) & (Chunk.attempts == chunk.attempts)
    condition &= (Chunk.claim_token == chunk.claim_token) if chunk.claim_token else Chunk.claim_token.does_not_exist()
    try:
        store_retry(lambda: transact_write(chunk, actions, condition, [job_op]), what=f"give up of chunk {chunk.job_id}")
    except Exception as exc:
        if refusal_of(exc).answer is Answer.REFUSED:
            return False
        raise
    logger.info("chunk %s#%s ended (%s): +%s failed; %s", chunk.job_id, int(chunk.number), code, delta[1], message)
    return True
