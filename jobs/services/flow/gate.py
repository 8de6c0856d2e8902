"""The flow-control gate a runner passes before it claims a job or a chunk: a paused type waits, a limited one takes slots in the claim.

The message carries the job's flow hints (type, key: jobs.flow.flow_hints), so the
gate reads no job: it looks the type's settings up in this process's cache
(jobs.selectors.flow.type_limits, at most BATCHLAB_TYPE_SETTINGS_SECONDS old).

- paused: the unit is not claimed; it waits (jobs.services.flow.waiting.unit_wait);
- no limits: the claim is the plain one (one UpdateItem), with nothing added but,
  after a wait, the removal of its WaitingFor in that same write;
- limits: see jobs.services.flow.limiter (the claim's transaction takes the slots).
"""

from dataclasses import dataclass, field

from jobs.flow import Limits, WaitReason, flow_hints
from jobs.selectors.flow import SETTINGS, type_limits
from jobs.services.flow.limiter import type_scope
from jobs.services.flow.waiting import unit_wait, waited_unit_started
from jobs.services.lease.outcome import Outcome
from jobs.services.store import logger
from jobs.tables import JOB_SK, Chunk, Job


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
    return [model.waiting_for.remove()] + ([model.waiting_since.remove()] if model is Job else []) if flow.get("reason") else []


def flow_gate(*, job_id: str, number: int | None, flow: dict | None) -> Gate:
    """Decide whether the unit of this message may be claimed now; a paused type's unit waits (its message sent again)."""
    hints = _hints(job_id, flow)
    model = Job if number is None else Chunk
    if not hints:
        return Gate(passed=True)
    limits = type_limits(type=hints["type"])
    if limits.paused:
        delay = unit_wait(job_id=job_id, number=number, reason=WaitReason.PAUSED, flow=hints,
                          priority=hints.get("priority"), scope=type_scope(hints["type"]))
        logger.info("%s%s: type %s paused; %s", job_id, f"#{number}" if number else "", hints["type"],
                    "no longer waiting" if delay is None else f"looks again in {delay} s")
        return Gate(passed=False, limits=limits, delay=delay, flow=hints)
    return Gate(passed=True, limits=limits, actions=_clear_waiting(model, hints), flow=hints)


def gate_outcome(gate: Gate) -> Outcome:
    """The Outcome of a unit the gate held back: WAITING (its message sent again later), or FINAL (no longer waiting)."""
    return Outcome.WAITING if gate.delay is not None else Outcome.FINAL


def flow_started(gate: Gate) -> None:
    """The unit was claimed: a waiter it left next to its limiter is removed."""
    waited_unit_started(gate.flow)
