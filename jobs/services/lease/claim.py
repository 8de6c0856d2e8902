"""A claim of a leased unit and the writes it fences: one conditional write takes the unit, its token guards every later write.

`unit_claim` moves a waiting unit (or one whose lease ran out) to its processing
status in one conditional write that records a lease: the worker, a fresh token
and an expiry. `fenced_write` applies a later write only while the unit still
carries that token, so a worker that lost its lease cannot overwrite the new
owner's outcome. Both read DynamoDB's answers through `store.refusal_of`:

- a refusal of the unit's own condition is an answer about the unit: the claim
  re-reads it once to say why (or to recognise its own write, applied with its
  answer lost: the token is on the unit); a fenced write raises LeaseLost, unless
  the same re-read shows the write applied;
- a transaction conflict or a throttle is no answer about anything: the same
  write is tried again with backoff (`store.store_retry`), never taken for a lost lease;
- a fault (no answer) is recognised by the token when the write landed, else raised.

`also` (claim and fenced write alike) adds operations on other items to the same
TransactWriteItems: a chunk's finish moves its job's counters that way. Without
it a write is one UpdateItem.
"""

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from jobs.services.lease.outcome import Outcome
from jobs.services.lease.units import JOB, UnitKind, unit_label, unit_ref
from jobs.services.store import Answer, allowed_by, logger, moves_to, refusal_of, store_retry, utcnow
from jobs.states import Transition
from jobs.tables import Job

# One operation of a transaction on another item: called with the TransactWrite to add itself.
AlsoOp = Callable[[TransactWrite], None]


@dataclass
class Claim:
    """What a worker holds while it runs a unit: the unit as claimed and the token that fences its writes."""

    kind: UnitKind
    unit: Model
    token: str
    worker: str
    # Timeline lines a job's handler wrote since the last write; they ride along with the next one.
    pending_log: list = field(default_factory=list)

    @property
    def job(self) -> Model:
        return self.unit

    @property
    def job_id(self) -> str:
        return self.unit.job_id

    @property
    def label(self) -> str:
        return unit_label(self.unit)


@dataclass(frozen=True)
class Refused:
    """A claim that did not take the unit: why, and the unit as read after the refusal (None when missing)."""

    outcome: Outcome
    unit: Model | None = None


class LeaseLost(Exception):
    """The claim's token is no longer on the unit: another worker owns it now, or it was ended meanwhile."""


class AlsoRefused(Exception):
    """A transaction was refused by the condition of one of its `also` operations (not by the unit's own)."""

    def __init__(self, index: int):
        super().__init__(f"the condition of operation {index} of the transaction was false")
        self.index = index  # 1 = the first `also` operation


def lease_deadline() -> int:
    return int(time.time()) + settings.BATCHLAB_LEASE_SECONDS


def read_quietly(unit: Model) -> Model | None:
    """The unit as stored now (consistent read), or None when missing or the store still does not answer."""
    try:
        return type(unit).get(unit.job_id, unit.sk, consistent_read=True)
    except Exception:  # missing, or unreachable: the caller re-raises its own error
        return None


def _touch(kind: UnitKind) -> list:
    return [kind.model.updated_at.set(utcnow()), kind.model.version.add(1)] if kind.versioned else []


def transact_write(unit: Model, actions: list, condition, also: Sequence[AlsoOp]) -> None:
    """One TransactWriteItems: the unit's update first (index 0 of its cancellation reasons), then `also`."""
    with TransactWrite(connection=Job._get_connection().connection, client_request_token=uuid.uuid4().hex) as tx:
        tx.update(unit, actions=actions, condition=condition)
        for op in also:
            op(tx)


def _attempts_left(kind: UnitKind):
    model = kind.model
    if kind is JOB:
        return model.attempts < model.max_attempts
    # Chunks written before the cap carry no MaxAttempts: the setting stands in.
    return (model.attempts < model.max_attempts) | (
        model.max_attempts.does_not_exist() & (model.attempts < settings.BATCHLAB_MAX_ATTEMPTS))


def unit_claim(
    *, kind: UnitKind, job_id: str, number: int | None = None, worker: str,
    actions: Sequence = (), condition=None, also: Sequence[AlsoOp] = (),
) -> Claim | Refused:
    """Claim a unit for `worker`: waiting -> processing, or take over an expired lease, while attempts are left.

    One conditional UpdateItem returning the new unit (no read before it); with
    `also`, one TransactWriteItems and one GetItem. Refused: one consistent GetItem
    says why (Refused.outcome: MISSING, FINAL, BUSY, EXHAUSTED, NOT_CLAIMABLE), or
    recognises this very claim applied with its answer lost. AlsoRefused when an
    `also` operation's condition was false (the unit was not taken).
    """
    model = kind.model
    token = uuid.uuid4().hex
    unit = unit_ref(kind, job_id=job_id, number=number)
    now = int(time.time())
    # A unit in its processing status is claimable only once its lease has run out (its worker died).
    lease_free = (kind.status != kind.processing) | (model.lease_expires_at < now)
    full_condition = model.sk.exists() & allowed_by(kind.claim) & lease_free & _attempts_left(kind)
    if kind.claim_guard is not None:
        full_condition &= kind.claim_guard
    if condition is not None:
        full_condition &= condition
    all_actions = [
        *moves_to(kind.claim), model.attempts.add(1), model.started_at.set(utcnow()), model.lease_owner.set(worker),
        model.claim_token.set(token), model.lease_expires_at.set(lease_deadline()), *actions, *_touch(kind),
    ]

    def write():
        if also:
            transact_write(unit, all_actions, full_condition, also)
        else:
            unit.update(actions=all_actions, condition=full_condition, add_version_condition=False)

    try:
        store_retry(write, what=f"claim of {kind.name} {unit_label(unit)}")
    except Exception as exc:
        refusal = refusal_of(exc)
        if refusal.answer is Answer.REFUSED and refusal.index:
            raise AlsoRefused(refusal.index) from None
        if refusal.answer is Answer.REFUSED:
            return _why_refused(kind, unit, token=token, worker=worker)
        if refusal.answer is Answer.FAULT:
            # Every try failed in transit (the last answer lost too): one read tells whether a try applied.
            landed = read_quietly(unit)
            if landed is not None and landed.claim_token == token:
                logger.info("%s %s: claim applied, every answer lost; recognised by its token", kind.name, unit_label(unit))
                return Claim(kind=kind, unit=landed, token=token, worker=worker)
        raise
    if also:
        unit = type(unit).get(unit.job_id, unit.sk, consistent_read=True)
    return Claim(kind=kind, unit=unit, token=token, worker=worker)


def _why_refused(kind: UnitKind, unit: Model, *, token: str, worker: str) -> Claim | Refused:
    try:
        seen = type(unit).get(unit.job_id, unit.sk, consistent_read=True)
    except type(unit).DoesNotExist:
        return Refused(Outcome.MISSING)
    if seen.claim_token == token:
        # Our claim was applied but its answer was lost (connection reset); the SDK's
        # retry was then refused by the claim itself. The token says so.
        logger.info("%s %s: claim applied, its answer lost; recognised by its token", kind.name, unit_label(seen))
        return Claim(kind=kind, unit=seen, token=token, worker=worker)
    status = kind.status_of(seen)
    if kind.is_final(status):
        return Refused(Outcome.FINAL, seen)
    if not kind.claim.allows(status) or (kind is JOB and seen.chunks_total is not None):
        return Refused(Outcome.NOT_CLAIMABLE, seen)
    if status == kind.processing and (seen.lease_expires_at or 0) >= time.time():
        return Refused(Outcome.BUSY, seen)
    limit = seen.max_attempts if seen.max_attempts is not None else settings.BATCHLAB_MAX_ATTEMPTS
    if int(seen.attempts or 0) >= int(limit):
        return Refused(Outcome.EXHAUSTED, seen)
    # Claimable now (a lease ran out, or the unit moved back, between our write and this read):
    # leave the message for later rather than act on a state that is moving.
    return Refused(Outcome.BUSY, seen)


def fenced_write(
    claim: Claim, transition: Transition, actions: Sequence, *, also: Sequence[AlsoOp] = (), read_back: bool = False,
) -> None:
    """One write applied only while this claim still holds the unit (else LeaseLost).

    read_back: refresh claim.unit from the item the write returns (a job's
    heartbeat sees CancelRequested that way). A final write reads nothing back:
    it asks for no item, which DynamoDB then need not send nor PynamoDB build.
    """
    kind, unit = claim.kind, claim.unit
    condition = allowed_by(transition) & (kind.model.claim_token == claim.token)
    all_actions = [*moves_to(transition), *actions, *_touch(kind)]

    def write():
        if also:
            transact_write(unit, all_actions, condition, also)
        elif read_back:
            unit.update(actions=all_actions, condition=condition, add_version_condition=False)
        else:
            kind.model._get_connection().update_item(unit.job_id, range_key=unit.sk, actions=all_actions, condition=condition)

    try:
        store_retry(write, what=f"{transition.name} of {kind.name} {claim.label}")
    except Exception as exc:
        refusal = refusal_of(exc)
        if refusal.answer is Answer.REFUSED and refusal.index:
            raise AlsoRefused(refusal.index) from None
        if refusal.answer in (Answer.REFUSED, Answer.FAULT) and _applied_before(claim, transition):
            return  # a try that failed in transit was applied (the SDK's retry then refused, or nothing answered)
        if refusal.answer is Answer.REFUSED:
            raise LeaseLost(f"{kind.name} {claim.label}: the claim of {claim.worker} was taken over") from None
        raise


def _applied_before(claim: Claim, transition: Transition) -> bool:
    """After a refused or unanswered fenced write: did an earlier try of it apply (its answer lost)?

    The claim's token stays on the unit through every write of its worker, so the
    unit still carrying our token and the transition's target status means our
    write is the one that moved it; anything else means another claim took over.
    """
    if transition.target == claim.kind.processing:
        return False  # a renewal's retry is not refused while the claim holds
    seen = read_quietly(claim.unit)
    if seen is None or seen.claim_token != claim.token or claim.kind.status_of(seen) != transition.target:
        return False
    logger.info("%s %s: %s applied, its answer lost; recognised by the claim token", claim.kind.name, claim.label, transition.name)
    claim.unit = seen
    return True
