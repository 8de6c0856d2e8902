"""Flow control, pure: priorities and their weights, rates ("10/s"), a type's limits, the GCRA arithmetic, the waits; no I/O.

A job type's limits are enforced at the claim, by DynamoDB conditions that the
services build from these values (jobs.services.flow); this module only decides
numbers: whether a start conforms to a rate, when the next one may start, how
long a waiting job's message stays invisible.
"""

import math
import random
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITIES: tuple[Priority, ...] = (Priority.HIGH, Priority.NORMAL, Priority.LOW)

# Of every 10 receives a worker makes while every priority has work, this many go
# to each priority's queue: a full high backlog still leaves low 10% of the starts.
WEIGHTS: dict[Priority, int] = {Priority.HIGH: 6, Priority.NORMAL: 3, Priority.LOW: 1}


def queue_suffix(priority: str | None) -> str:
    """The queue of a priority after the prefix: `jobs-high`, `jobs` (normal, the queue from before priorities), `jobs-low`."""
    priority = Priority(priority or Priority.NORMAL)
    return "jobs" if priority == Priority.NORMAL else f"jobs-{priority.value}"


def flow_key(*, concurrency_key: str | None, owner: str | None) -> str:
    """What a job's key limits count it under: its concurrency_key, else its submitting user (fairness by default)."""
    return concurrency_key or f"user:{owner or ''}"


def flow_hints(job) -> dict:
    """What a job's message carries for flow control: its type, key and priority (the worker reads no job to know them)."""
    return {"type": job.type, "key": flow_key(concurrency_key=getattr(job, "concurrency_key", None), owner=job.owner),
            "priority": str(getattr(job, "priority", None) or Priority.NORMAL)}


class WaitReason(StrEnum):
    """Why a QUEUED job has not started: its record's `waiting_for`."""

    PAUSED = "paused"
    CONCURRENCY = "concurrency_limit"
    RATE = "rate_limit"


# -- rates ---------------------------------------------------------------------

_UNITS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)?\s*([a-z]+)\s*$")
# One DynamoDB partition takes about 1,000 writes a second, and every start of a
# rate-limited type writes the type's limiter item: a faster rate cannot be held.
MAX_STARTS_PER_SECOND = 500


@dataclass(frozen=True)
class Rate:
    """`count` starts per `seconds`, held as one start every `interval` seconds (no burst)."""

    count: int
    seconds: int

    @property
    def interval(self) -> float:
        return self.seconds / self.count

    def __str__(self) -> str:
        unit = {1: "s", 60: "min", 3600: "h", 86400: "day"}.get(self.seconds)
        return f"{self.count}/{unit}" if unit else f"{self.count}/{self.seconds}s"


def rate_parse(text: str) -> Rate:
    """"10/s", "600/min", "100/h", "1000/day", "5/10s" -> Rate; ValueError saying what is wrong."""
    match = _RATE.match(str(text).lower())
    if not match:
        raise ValueError(f"{text!r} is not a rate: write a whole number of starts per unit, e.g. \"10/s\" or \"600/min\".")
    count, multiple, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    if unit not in _UNITS and unit.endswith("s") and unit[:-1] in _UNITS:
        unit = unit[:-1]  # "seconds", "mins", "hours", "days"
    if unit not in _UNITS:
        raise ValueError(f"Unknown unit {unit!r} in {text!r}: use s, min, h or day.")
    if count < 1 or multiple < 1:
        raise ValueError(f"{text!r} allows nothing: a rate needs at least 1 start per period (pause the type instead).")
    rate = Rate(count=count, seconds=multiple * _UNITS[unit])
    if count / rate.seconds > MAX_STARTS_PER_SECOND:
        raise ValueError(f"{text!r} is over {MAX_STARTS_PER_SECOND}/s, more than one limiter item can take.")
    return rate


# -- a type's settings ---------------------------------------------------------

MAX_CONCURRENCY = 1000  # the limiter item holds one lease per running job: ~60 bytes each, billed by the KB


@dataclass(frozen=True)
class Limits:
    """A job type's flow-control settings: declared in `@job_type(...)`, edited at run time by staff."""

    paused: bool = False
    priority: Priority = Priority.NORMAL
    concurrency_limit: int | None = None
    rate_limit: str | None = None
    key_concurrency_limit: int | None = None
    key_rate_limit: str | None = None

    FIELDS = ("paused", "priority", "concurrency_limit", "rate_limit", "key_concurrency_limit", "key_rate_limit")

    def __post_init__(self):
        errors = limits_errors(self.as_dict())
        if errors:
            raise ValueError("; ".join(f"{k}: {v}" for k, v in errors.items()))
        object.__setattr__(self, "priority", Priority(self.priority))

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}

    def changed(self, **values) -> "Limits":
        return replace(self, **values)

    @property
    def type_limited(self) -> bool:
        return self.concurrency_limit is not None or self.rate_limit is not None

    @property
    def key_limited(self) -> bool:
        return self.key_concurrency_limit is not None or self.key_rate_limit is not None

    @property
    def limited(self) -> bool:
        """Whether a claim must take a slot or a token (a type without limits claims with one UpdateItem)."""
        return self.type_limited or self.key_limited

    def rate(self) -> Rate | None:
        return rate_parse(self.rate_limit) if self.rate_limit else None

    def key_rate(self) -> Rate | None:
        return rate_parse(self.key_rate_limit) if self.key_rate_limit else None


def limits_errors(values: dict) -> dict[str, str]:
    """Every bad field of a Limits-shaped dict, by name (empty when all are good)."""
    errors = {}
    if not isinstance(values.get("paused", False), bool):
        errors["paused"] = "Must be true or false."
    if values.get("priority", Priority.NORMAL) not in set(PRIORITIES):
        errors["priority"] = f"Must be one of {', '.join(PRIORITIES)}."
    for name in ("concurrency_limit", "key_concurrency_limit"):
        value = values.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY):
            errors[name] = f"Must be a whole number from 1 to {MAX_CONCURRENCY}, or null for no limit (pause to stop a type)."
    for name in ("rate_limit", "key_rate_limit"):
        value = values.get(name)
        if value is not None:
            try:
                rate_parse(value)
            except ValueError as exc:
                errors[name] = str(exc)
    return errors


# -- the rate arithmetic (GCRA with no burst) ----------------------------------


@dataclass(frozen=True)
class Admission:
    """A start at `now`: allowed (then the next may start at `tat`) or not before `retry_at`."""

    allowed: bool
    tat: float
    retry_at: float


def gcra_admit(*, tat: float | None, now: float, interval: float) -> Admission:
    """GCRA with a burst of one: a start conforms when the theoretical arrival time has come.

    The next theoretical arrival time is `max(tat, now) + interval`; with no burst
    a conforming start has tat <= now, so it is `now + interval`, which is what the
    claim's conditional write sets (condition `Tat <= :now`, no read needed). So any
    two starts are at least `interval` apart, and a closed window of `seconds` holds
    at most `count + 1` starts (one at each end): the +1 of the documented slack.
    """
    if tat is None or tat <= now:
        return Admission(allowed=True, tat=now + interval, retry_at=now)
    return Admission(allowed=False, tat=tat, retry_at=tat)


def booking(*, booked: float | None, tat: float | None, now: float, interval: float) -> tuple[float, float]:
    """A waiting job's turn: (the time it may start, the next free turn).

    Waiting jobs book turns one `interval` apart after the last start or booking,
    so that each comes back once, near its own turn, instead of all of them at the
    next free moment (a herd that would cost a refused write each).
    """
    turn = max(booked or 0.0, tat or 0.0, now)
    return turn, turn + interval


# -- waits -------------------------------------------------------------------------

SQS_MAX_DELAY = 900


@dataclass(frozen=True)
class WaitPolicy:
    """The longest a waiting job's message stays away before it looks again, by reason (seconds)."""

    concurrency_max: float = 30.0
    paused_max: float = 60.0
    first: float = 1.0
    jitter: tuple[float, float] = field(default=(0.5, 1.0))


def wait_delay(reason: WaitReason, *, waits: int, turn_in: float | None = None, policy: WaitPolicy = WaitPolicy(),
               rng: random.Random | None = None, first: float | None = None) -> int:
    """Whole seconds (SQS's unit, at most 900) until a waiting job's message is visible again.

    rate_limit with a booked turn (`turn_in` seconds from now): rounded down so that it
    comes back just before it (the claim then waits the rest, under a second).
    concurrency_limit, paused, and rate_limit with no turn booked: doubling from `first`
    with each wait, capped, with jitter (no one knows when a slot frees; a release or a
    resume wakes waiters sooner). `first`: the first wait instead of `policy.first` (a rate's:
    until the turns booked by others have passed).
    """
    if reason == WaitReason.RATE and turn_in is not None:
        return max(0, min(SQS_MAX_DELAY, int(math.floor(turn_in or 0))))
    cap = policy.paused_max if reason == WaitReason.PAUSED else policy.concurrency_max
    low, high = policy.jitter
    ceiling = min(cap, max(policy.first, first or 0.0) * 2 ** max(0, waits))
    return max(1, min(SQS_MAX_DELAY, int(round((rng or random).uniform(low, high) * ceiling))))


def waits_per_minute(reason: WaitReason, *, policy: WaitPolicy = WaitPolicy()) -> float:
    """The most times a job waiting for `reason` comes back in a minute once its wait reached the cap."""
    cap = policy.concurrency_max if reason == WaitReason.CONCURRENCY else policy.paused_max
    return 60.0 / max(1.0, round(policy.jitter[0] * cap))
