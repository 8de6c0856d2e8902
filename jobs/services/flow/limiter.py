"""The limiters the claim writes: a type's or a key's running leases and rate frontier, taken in the claim's own transaction.

A limiter is one item (jobs.tables.Limiter). A claim of a limited type adds, to the
TransactWriteItems that claims the job (or chunk), one update per limiter:

- concurrency: `ADD Leases {"<unit> <token>"}` on condition that fewer than the limit
  are there (`size(Leases) < :limit`): the slot is taken by the same write that
  takes the unit, never by a read and then a write;
- rate (GCRA, no burst): `SET Tat = :now + :interval` on condition `Tat <= :now`
  (the theoretical arrival time of the next start has come). A unit refused
  books a turn (`rate_book`: turns one interval apart after the last start or
  booking), so that the units waiting for the same rate do not all try at the
  same instant; at its turn it claims on the same condition, with
  `SET Tat = :turn + :interval` when on time (within half an interval, so that
  the starts stay on the grid of turns however many milliseconds each is late)
  or `:now + :interval` when later. Two starts are then at least half an
  interval apart and on-time ones one interval apart: a closed window of the
  rate's period holds at most `count + 1` starts.

The claim also records on the unit which limiters it holds a slot on and the slot's
id (`Limiters`, `Slot`). The end of a run deletes its lease string (one UpdateItem per
limiter). A worker that died keeps its lease string until a refused claim finds it
dead: its unit no longer carries that slot, is not running, or its lease ran out
(jobs.services.flow.gate reads the limiter and the units then, and deletes what is dead).

Every write to a limiter writes one hot item: on real DynamoDB one partition takes
about 1,000 writes a second, and claims of one type at the same moment conflict
(TransactionConflict, retried by the claim, never read as a refusal). A type without
limits never touches a limiter: its claim is the one UpdateItem it always was
(jobs.services.lease.claim.unit_claim takes the limiter operations as its `also`).
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import PynamoDBException, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from jobs.exceptions import QueueUnavailable
from jobs.flow import Limits, Rate, booking
from jobs.services import publishing
from jobs.services.lease.expiry import unit_requeue_expired
from jobs.services.lease.units import CHUNK, JOB
from jobs.services.store import entry, is_condition_failure, logger, timeline_add
from jobs.states import LEASE_EXPIRED
from jobs.tables import JOB_SK, LIMITER_SK, Chunk, Job, Limiter, chunk_sk

# A key's limiter (one per customer, say) expires this long after its last write.
KEY_LIMITER_KEPT = timedelta(days=2)


@dataclass(frozen=True)
class Scope:
    """One limiter a claim must pass: its item's key and the limits it holds there."""

    scope: str
    concurrency: int | None = None
    rate: Rate | None = None

    @property
    def is_key(self) -> bool:
        return self.scope.startswith("key#")


def type_scope(type: str) -> str:
    return f"type#{type}"


def key_scope(type: str, key: str) -> str:
    return f"key#{type}#{key}"


def scopes_of(limits: Limits, *, type: str, key: str) -> list[Scope]:
    """The limiters a claim of this type (and key) takes, in a fixed order: the type's, then the key's."""
    out = []
    if limits.type_limited:
        out.append(Scope(type_scope(type), concurrency=limits.concurrency_limit, rate=limits.rate()))
    if limits.key_limited:
        out.append(Scope(key_scope(type, key), concurrency=limits.key_concurrency_limit, rate=limits.key_rate()))
    return out


def lease_of(*, label: str, slot: str) -> str:
    """The string a running unit holds in a limiter's Leases: `<job id>[#<chunk>] <slot>` (the unit carries Slot too)."""
    return f"{label} {slot}"


def take_op(scope: Scope, *, lease: str, now: float, turn: float | None = None):
    """The `also` operation of a claim: take a slot and a start on this limiter, or refuse the whole transaction.

    `turn`: the unit's booked turn, come (None: a unit with no booking).
    """
    actions, condition = [], None
    if scope.concurrency is not None:
        actions.append(Limiter.leases.add({lease}))
        condition = Limiter.leases.does_not_exist() | (size(Limiter.leases) < scope.concurrency)
    if scope.rate is not None:
        on_time = turn is not None and now - turn <= scope.rate.interval / 2
        actions.append(Limiter.tat.set((turn if on_time else now) + scope.rate.interval))
        rate_free = Limiter.tat.does_not_exist() | (Limiter.tat <= now)
        condition = rate_free if condition is None else condition & rate_free
    if scope.is_key:
        actions.append(Limiter.expires_at.set(KEY_LIMITER_KEPT))

    def op(transaction: TransactWrite) -> None:
        transaction.update(Limiter(scope.scope, LIMITER_SK), actions=actions, condition=condition)

    return op


def slots_release(*, scopes: list[str], lease: str) -> None:
    """Give back a run's slot on each limiter it took one from (one UpdateItem each; deleting an absent one is a no-op)."""
    for scope in scopes:
        try:
            Limiter(scope, LIMITER_SK).update(actions=[Limiter.leases.delete({lease})])
        except PynamoDBException as exc:  # a refused claim finds it dead later (its unit ended)
            logger.warning("limiter %s: lease %s not released (%s); a later claim reclaims it", scope, lease, exc)


def limiter_read(scope: str) -> Limiter | None:
    """The limiter as stored now (one consistent GetItem)."""
    try:
        return Limiter.get(scope, LIMITER_SK, consistent_read=True)
    except Limiter.DoesNotExist:
        return None


def lease_drop(*, scope: str, lease: str) -> None:
    """Delete a dead run's lease string (found dead by the caller)."""
    Limiter(scope, LIMITER_SK).update(actions=[Limiter.leases.delete({lease})])


def rate_book(*, scope: Scope, limiter: Limiter | None, within: float | None = None, attempts: int = 5) -> float | None:
    """Book the next free turn of the scope's rate for a waiting job; returns when it may start (epoch seconds).

    A compare-and-set on `Booked` (one UpdateItem; a concurrent booking is read
    again from the refusal and the next turn taken, up to `attempts` times).
    `within`: book only a turn at most that many seconds away (else None, nothing written).
    """
    booked, tat = (limiter.booked, limiter.tat) if limiter is not None else (None, None)
    for _ in range(attempts):
        now = time.time()
        turn, following = booking(booked=booked, tat=tat, now=now, interval=scope.rate.interval)
        if within is not None and turn - now > within:
            return None
        unchanged = Limiter.booked.does_not_exist() if booked is None else (Limiter.booked == booked)
        try:
            Limiter(scope.scope, LIMITER_SK).update(actions=[Limiter.booked.set(following)], condition=unchanged)
            return turn
        except UpdateError as exc:
            if not is_condition_failure(exc):
                logger.warning("limiter %s: booking not written (%s)", scope.scope, exc)
                return turn  # the claim still checks the rate at the start
            seen = limiter_read(scope.scope)
            booked, tat = (seen.booked, seen.tat) if seen is not None else (None, None)
    return turn  # contended: this turn may be shared; the claim still checks the rate at the start


def _requeue_dead(unit, *, now: float) -> bool:
    """A unit PROCESSING on an expired lease (its worker died): back to waiting and published, as recovery does
    (jobs.services.lease.expiry; one with no attempts left is ended by the claim that receives it). False when
    it moved meanwhile (renewed, finished, or moved back by another)."""
    if isinstance(unit, Chunk):
        if not unit_requeue_expired(kind=CHUNK, unit=unit, now=now):
            return False
    else:
        message = (f"Lease of {unit.lease_owner} expired during attempt {int(unit.attempts)}; queued again "
                   "when its concurrency slot was reclaimed.")
        line = entry("lease_expired", status=LEASE_EXPIRED.target, message=message)
        if not unit_requeue_expired(kind=JOB, unit=unit, now=now, actions=[timeline_add(unit, line)]):
            return False
    try:
        if isinstance(unit, Chunk):
            route = publishing.job_route(Job.get(unit.job_id, JOB_SK))
            publishing.chunks_publish(job_id=unit.job_id, numbers=[int(unit.number)], **route)
        else:
            publishing.job_publish(job_id=unit.job_id, **publishing.job_route(unit))
    except QueueUnavailable:
        pass  # waiting, not published: the recovery pass publishes it
    return True


# lease string -> until when this process saw its unit alive (its lease's expiry): not read again before.
_ALIVE: dict[str, float] = {}


def leases_reclaim(*, scope: str, leases) -> int:
    """Delete the lease strings of runs that ended without giving their slot back (their worker died); returns how many.

    A run is dead when its unit is gone, no longer carries that slot, is not running,
    or its lease ran out. A unit still PROCESSING on an expired lease is first moved
    back as the recovery pass would (QUEUED and published again, or FAILED with no
    attempts left; a chunk PENDING), so that its record never shows it running
    while its slot is another's. One BatchGetItem per model for the leases not seen
    alive lately (a run seen alive is not read again before its lease's expiry), one
    UpdateItem per dead one.
    """
    now = time.time()
    wanted = {lease: lease.split(" ", 1) for lease in leases if _ALIVE.get(lease, 0) < now and " " in lease}
    if not wanted:
        return 0
    jobs, chunks = {}, {}
    for lease, (label, _) in wanted.items():
        job_id, _, number = label.partition("#")
        (chunks if number else jobs)[lease] = (job_id, chunk_sk(int(number))) if number else (job_id, JOB_SK)
    seen = {}
    for model, keys in ((Job, jobs), (Chunk, chunks)):
        if keys:
            for unit in model.batch_get(list(set(keys.values())), consistent_read=True):
                seen[(unit.job_id, unit.sk)] = unit
    dropped = 0
    for lease, (label, slot) in wanted.items():
        key = jobs.get(lease) or chunks.get(lease)
        unit = seen.get(key)
        running = unit is not None and "PROCESSING" in (getattr(unit, "status", None), getattr(unit, "chunk_status", None))
        # Whole seconds, as the lease is written and as recovery compares it.
        if running and unit.slot == slot and (unit.lease_expires_at or 0) >= int(now):
            _ALIVE[lease] = float(unit.lease_expires_at)
            continue
        if running and unit.slot == slot and not _requeue_dead(unit, now=now):
            continue  # it moved meanwhile (renewed, or recovered by another): looked at again by the next refusal
        lease_drop(scope=scope, lease=lease)
        _ALIVE.pop(lease, None)
        dropped += 1
        logger.info("limiter %s: lease of %s reclaimed (its run ended without giving it back)", scope, label)
    return dropped
