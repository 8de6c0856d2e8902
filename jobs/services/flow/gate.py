"""The flow-control gate a runner passes before it claims a job or a chunk: a paused type waits, a limited one takes slots in the claim.

The message carries the job's flow hints (type, key: jobs.flow.flow_hints), so the
gate reads no job: it looks the type's settings up in this process's cache
(jobs.selectors.flow.type_limits, at most BATCHLAB_TYPE_SETTINGS_SECONDS old).

- paused: the unit is not claimed; it waits (jobs.services.flow.waiting.unit_wait);
- no limits: the claim is the plain one (one UpdateItem), with nothing added but,
  after a wait, the removal of its WaitingFor in that same write;
- limits: `flow_claim` adds the type's (and key's) limiter operations to the claim,
  so its one transaction takes the slot and the start (jobs.services.flow.limiter);
  refused by a limiter, the unit waits: for a slot (after giving back the slots of
  runs found dead), or for its booked turn of the rate (a wait under a second is
  waited here: SQS delays are whole seconds).
"""

import time
import uuid
from dataclasses import dataclass, field

from jobs.flow import Limits, WaitReason, flow_hints
from jobs.selectors.flow import SETTINGS, type_limits
from jobs.services.flow.limiter import (
    Scope,
    lease_of,
    leases_reclaim,
    limiter_read,
    rate_book,
    scopes_of,
    slots_release,
    take_op,
    type_scope,
)
from jobs.services.flow.waiting import unit_wait, waited_unit_started, waiters_wake
from jobs.services.lease.claim import AlsoRefused, Claim, Refused
from jobs.services.lease.outcome import Outcome
from jobs.services.store import logger
from jobs.tables import JOB_SK, Chunk, Job

# A start due within this is waited for here (SQS delays are whole seconds); later ones go back to SQS.
LOCAL_WAIT_SECONDS = 1.0
CLAIM_TRIES = 8


@dataclass
class Gate:
    """What the runner does next: claim with `actions` added (passed), or nothing (waited: its message is sent again).

    A unit that did not pass is WAITING, or FINAL when it was no longer QUEUED
    (PENDING) to wait (canceled meanwhile; its message is dropped): gate_outcome.
    """

    passed: bool
    limits: Limits = field(default_factory=Limits)
    actions: list = field(default_factory=list)
    delay: int | None = None  # waited: seconds until its message comes back (None: it no longer waits)
    flow: dict = field(default_factory=dict)
    job_id: str = ""
    number: int | None = None

    @property
    def label(self) -> str:
        return self.job_id if self.number is None else f"{self.job_id}#{self.number}"


def _hints(job_id: str, flow: dict | None) -> dict:
    """The message's flow hints; a message sent before they existed has none: read the job's only if any type needs them."""
    if flow and "type" in flow:
        return flow
    if not SETTINGS.items():  # no type has settings stored: defaults alone hold nothing back that this job could hit
        return {}
    try:
        job = Job.get(job_id, JOB_SK, attributes_to_get=["Type", "Owner", "ConcurrencyKey", "Priority"])
    except Job.DoesNotExist:
        return {}
    return {**(flow or {}), **flow_hints(job)}


def _clear_waiting(model, flow: dict) -> list:
    if not flow.get("reason"):
        return []
    return [model.waiting_for.remove(), model.waiting_since.remove(), *([] if model is Job else [model.waiting_type.remove()])]


def flow_gate(*, job_id: str, number: int | None, flow: dict | None) -> Gate:
    """Decide whether the unit of this message may be claimed now; a paused type's unit waits (its message sent again)."""
    hints = _hints(job_id, flow)
    model = Job if number is None else Chunk
    if not hints:
        return Gate(passed=True, job_id=job_id, number=number)
    limits = type_limits(type=hints["type"])
    if limits.paused:
        delay = unit_wait(job_id=job_id, number=number, reason=WaitReason.PAUSED, flow=hints,
                          priority=hints.get("priority"), scope=type_scope(hints["type"]))
        logger.info("%s%s: type %s paused; %s", job_id, f"#{number}" if number else "", hints["type"],
                    "no longer waiting" if delay is None else f"looks again in {delay} s")
        return Gate(passed=False, limits=limits, delay=delay, flow=hints, job_id=job_id, number=number)
    return Gate(passed=True, limits=limits, actions=_clear_waiting(model, hints), flow=hints, job_id=job_id, number=number)


def gate_outcome(gate: Gate) -> Outcome:
    """The Outcome of a unit the gate held back: WAITING (its message sent again later), or FINAL (no longer waiting)."""
    return Outcome.WAITING if gate.delay is not None else Outcome.FINAL


def flow_started(gate: Gate) -> None:
    """The unit was claimed: a waiter it left next to its limiter is removed."""
    waited_unit_started(gate.flow)


def gated_claim(*, job_id: str, number: int | None, flow: dict | None, claim) -> Claim | Refused:
    """The runner's claim behind the flow gate: `claim(actions, also)` (jobs.services.lease.claim.unit_claim's own).

    A paused type's unit, or one held by a limit, is Refused(WAITING) (its message is
    sent again later; FINAL when it no longer waits). A limited type's claim carries
    its limiter operations as `also`, so the one transaction takes the unit, the slot
    and the start together. A claimed unit's waiter (if it left one) is removed.
    """
    gate = flow_gate(job_id=job_id, number=number, flow=flow)
    if not gate.passed:
        return Refused(gate_outcome(gate))
    got = flow_claim(gate, claim)
    if isinstance(got, Gate):
        return Refused(gate_outcome(got))  # held by a limit: its message comes back later
    if isinstance(got, Claim):
        flow_started(gate)
    return got


def flow_claim(gate: Gate, claim):
    """Claim through `claim(actions, also)`, taking the unit's slots and starts when its type is limited.

    Returns what `claim` returned, or the Gate of a unit that waits now (its message
    is sent again; `gate.passed` is False then). A type without limits: `claim` once,
    with no `also`, as it always was (one UpdateItem).
    """
    if not gate.limits.limited:
        return claim(list(gate.actions), ())
    hints, label = gate.flow, gate.label
    scopes = scopes_of(gate.limits, type=hints["type"], key=hints["key"])
    model = Job if gate.number is None else Chunk
    _until_turn(hints)
    held = [s.scope for s in scopes if s.concurrency is not None]
    for _ in range(CLAIM_TRIES):
        slot = uuid.uuid4().hex[:12]
        actions = list(gate.actions) + ([model.limiters.set(held), model.slot.set(slot)] if held else [])
        now = time.time()
        turn = _turn_now(hints, scopes, now)
        try:
            return claim(actions, [take_op(s, lease=lease_of(label=label, slot=slot), now=now,
                                           turn=turn if s.rate is not None else None) for s in scopes])
        except AlsoRefused as refused:
            wait = _refused_by(scopes[refused.index - 1], hints, now=now)
            if wait is not None:
                return _wait(gate, *wait)
    return _wait(gate, WaitReason.RATE if any(s.rate for s in scopes) else WaitReason.CONCURRENCY, scopes[0], None)


def _turn_now(hints: dict, scopes: list[Scope], now: float) -> float | None:
    """The unit's booked turn once it has come (a unit back late keeps its place; limiter.take_op spaces it)."""
    turn = hints.get("turn")
    if not turn or not any(s.rate is not None for s in scopes):
        return None
    return turn if turn <= now + 0.001 else None


def _until_turn(hints: dict) -> None:
    """A unit with a booked turn came back just before it (SQS delays are whole seconds): wait the rest here."""
    turn = hints.get("turn")
    if turn and 0 < turn - time.time() <= LOCAL_WAIT_SECONDS:
        time.sleep(turn - time.time())


def _refused_by(scope: Scope, hints: dict, *, now: float):
    """Why a limiter refused the claim: None (try again now: a slot was reclaimed, or a turn is under a second away),
    or (reason, scope, turn) to wait for."""
    limiter = limiter_read(scope.scope)
    leases = (limiter.leases or set()) if limiter is not None else set()
    if scope.concurrency is not None and len(leases) >= scope.concurrency:
        if leases_reclaim(scope=scope.scope, leases=leases):
            return None
        return WaitReason.CONCURRENCY, scope, None
    if scope.rate is not None and limiter is not None:
        if hints.get("turn"):  # booked: its turn has not come yet, or the start before it is an instant late
            due = max(limiter.tat or 0.0, hints["turn"])
        elif (limiter.tat or 0.0) > now:
            # A fast rate's turns are booked only by the units that wait for them here: a unit sent back to
            # SQS comes back late behind the queue's backlog, and the turn it held would go unused. A slow
            # rate's (an interval of a second or more) are booked by every waiting unit.
            slow = scope.rate.interval >= LOCAL_WAIT_SECONDS
            turn = rate_book(scope=scope, limiter=limiter, within=None if slow else LOCAL_WAIT_SECONDS)
            if turn is None:  # no turn near: back once the turns booked now have passed, then doubling
                return WaitReason.RATE, scope, None, max(limiter.booked or 0.0, limiter.tat or 0.0) - time.time()
            due = hints["turn"] = turn  # its turn, kept through any wait
        else:
            return None  # it moved between the write and the read: try again
        if due - time.time() <= LOCAL_WAIT_SECONDS:
            time.sleep(max(0.0, due - time.time()))
            return None
        return WaitReason.RATE, scope, due
    return None  # it moved between the write and the read: try again


def _wait(gate: Gate, reason: WaitReason, scope: Scope, turn: float | None, first_wait: float | None = None) -> Gate:
    detail = f"limit {scope.concurrency}" if reason == WaitReason.CONCURRENCY else f"rate {scope.rate}"
    if scope.is_key:
        detail += f" per key {gate.flow['key']}"
    delay = unit_wait(job_id=gate.job_id, number=gate.number, reason=reason, flow=gate.flow,
                      priority=gate.flow.get("priority"), scope=scope.scope, turn=turn, detail=detail, first_wait=first_wait)
    logger.info("%s waits (%s, %s): back in %s s%s", gate.label, reason, detail, delay,
                f", its turn in {turn - time.time():.2f} s" if turn else "")
    return Gate(passed=False, limits=gate.limits, delay=delay, flow=gate.flow, job_id=gate.job_id, number=gate.number)


def flow_finished(unit) -> None:
    """A run ended (whatever its outcome): give back the slots its claim took, and wake the oldest waiter of each.

    One UpdateItem per limiter, and one Query of its waiters (plus, when there is
    one, a conditional DeleteItem and a SendMessage).
    """
    if getattr(unit, "limiters", None) and getattr(unit, "slot", None):
        label = unit.job_id if isinstance(unit, Job) else f"{unit.job_id}#{int(unit.number)}"
        slots_release(scopes=list(unit.limiters), lease=lease_of(label=label, slot=unit.slot))
        for scope in unit.limiters:
            waiters_wake(scope=scope, reason=WaitReason.CONCURRENCY, limit=1)
