"""When a schedule is due: interval and cron (croniter, in the schedule's timezone); pure, no I/O.

Due times are whole epoch seconds. An interval schedule stays anchored on its
first due time (no drift); a cron schedule follows the wall clock of its timezone.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter

# Derived job ids: the same (schedule, due time) always gives the same job id.
_RUN_NAMESPACE = uuid.UUID("6f1c2b0e-5b7a-4d3c-9a51-0d6c8a3e2f41")
# A cron schedule down for longer than this many due times counts at most this many as missed.
_MAX_COUNTED = 10_000


@dataclass(frozen=True)
class Timing:
    interval_seconds: int | None = None
    cron: str | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class CatchUp:
    """The due time to fire now, the next one after `now`, and how many due times in between were missed."""

    due_at: int
    next_run_at: int
    missed: int


def timezone_valid(name: str) -> bool:
    if name not in available_timezones() and name != "UTC":
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def cron_valid(expression: str) -> bool:
    # Five fields only: croniter's optional seconds/years fields would allow a
    # schedule every second, below any minimum interval.
    return len(expression.split()) == 5 and croniter.is_valid(expression)


def _cron_after(timing: Timing, after: float) -> int:
    start = datetime.fromtimestamp(after, tz=ZoneInfo(timing.timezone))
    return int(croniter(timing.cron, start).get_next(float))


def next_after(timing: Timing, *, after: float) -> int:
    """The first due time strictly after `after` (for a new or resumed schedule: from now)."""
    if timing.cron:
        return _cron_after(timing, after)
    return int(after) + int(timing.interval_seconds)


def catch_up(timing: Timing, *, due_at: int, now: float) -> CatchUp:
    """For a schedule due at `due_at` <= now: fire the latest due time <= now once, count the ones skipped over."""
    if timing.cron:
        latest, missed = due_at, 0
        following = _cron_after(timing, latest)
        while following <= now and missed < _MAX_COUNTED:
            latest, following, missed = following, _cron_after(timing, following), missed + 1
        if following <= now:  # down for very long: jump to the present
            start = datetime.fromtimestamp(now, tz=ZoneInfo(timing.timezone))
            latest = int(croniter(timing.cron, start).get_prev(float))
            following = _cron_after(timing, now)
        return CatchUp(due_at=latest, next_run_at=following, missed=missed)
    interval = int(timing.interval_seconds)
    missed = max(0, int((now - due_at) // interval))
    latest = due_at + missed * interval
    return CatchUp(due_at=latest, next_run_at=latest + interval, missed=missed)


def run_job_id(*, schedule_id: str, due_at: int) -> str:
    """The id of the job of one due time of one schedule: a second firing of it cannot make a second job."""
    return str(uuid.uuid5(_RUN_NAMESPACE, f"{schedule_id}@{int(due_at)}"))


def manual_job_id(*, schedule_id: str, at: datetime) -> str:
    """The id of a "run now" job (one per schedule per millisecond)."""
    return str(uuid.uuid5(_RUN_NAMESPACE, f"{schedule_id}!{int(at.timestamp() * 1000)}"))


def to_datetime(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(float(epoch), tz=timezone.utc) if epoch is not None else None
