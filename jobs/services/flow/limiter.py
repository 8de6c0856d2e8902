"""The limiters the claim writes: a type's or a key's running leases and rate frontier, taken in the claim's own transaction.

A limiter is one item (jobs.tables.Limiter). A claim of a limited type adds, to the
TransactWriteItems that claims the job (or chunk), one update per limiter:

- concurrency: `ADD Leases {"<unit> <token>"}` on condition that fewer than the limit
  are there (`size(Leases) < :limit`): the slot is taken by the same write that
  takes the unit, never by a read and then a write;
- rate (GCRA, no burst): `SET Tat = :now + :interval` on condition `Tat <= :now`
  (the theoretical arrival time of the next start has come).

The claim also records on the unit which limiters it holds a slot on and the slot's
id (`Limiters`, `Slot`). The end of a run deletes its lease string (one UpdateItem per
limiter). A worker that died keeps its lease string until a refused claim finds it
dead: its unit no longer carries that slot, is not running, or its lease ran out
(jobs.services.flow.gate reads the limiter and the units then, and deletes what is dead).

Every write to a limiter writes one hot item: on real DynamoDB one partition takes
about 1,000 writes a second, and claims of one type at the same moment conflict
(TransactionConflict, retried by the claim, never read as a refusal). A type without
limits never touches a limiter: its claim is the one UpdateItem it always was.
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import PynamoDBException, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from jobs.flow import Limits, Rate, booking
from jobs.services.store import is_condition_failure, logger
from jobs.tables import LIMITER_SK, Limiter

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


def take_op(scope: Scope, *, lease: str, now: float):
    """The `also` operation of a claim: take a slot and a start on this limiter, or refuse the whole transaction."""
    actions, condition = [], None
    if scope.concurrency is not None:
        actions.append(Limiter.leases.add({lease}))
        condition = Limiter.leases.does_not_exist() | (size(Limiter.leases) < scope.concurrency)
    if scope.rate is not None:
        actions.append(Limiter.tat.set(now + scope.rate.interval))
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


def rate_book(*, scope: Scope, limiter: Limiter | None, attempts: int = 5) -> float:
    """Book the next free turn of the scope's rate for a waiting job; returns when it may start (epoch seconds).

    A compare-and-set on `Booked` (one UpdateItem; a concurrent booking is read
    again from the refusal and the next turn taken, up to `attempts` times).
    """
    booked, tat = (limiter.booked, limiter.tat) if limiter is not None else (None, None)
    for _ in range(attempts):
        now = time.time()
        turn, following = booking(booked=booked, tat=tat, now=now, interval=scope.rate.interval)
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
