"""Webhook event types and ids: which events exist, which a job's status change raises; pure, no I/O."""

import os
import time

from jobs.states import JobStatus

JOB_STARTED = "job.started"
JOB_COMPLETED = "job.completed"
JOB_FAILED = "job.failed"
JOB_CANCELED = "job.canceled"
JOB_PROGRESS = "job.progress"
# A run of a schedule failed: its job ended FAILED, or the job could not be made at all.
SCHEDULE_RUN_FAILED = "schedule.run_failed"
# A workflow ended: every step completed, one failed for good, or it was canceled.
WORKFLOW_COMPLETED = "workflow.completed"
WORKFLOW_FAILED = "workflow.failed"
WORKFLOW_CANCELED = "workflow.canceled"
PING = "ping"  # POST /webhooks/{id}/test: to one endpoint, never subscribed to

# What a job's own callback may subscribe to.
JOB_EVENT_TYPES = (JOB_STARTED, JOB_COMPLETED, JOB_FAILED, JOB_CANCELED, JOB_PROGRESS)
# What an endpoint may subscribe to.
WORKFLOW_EVENT_TYPES = (WORKFLOW_COMPLETED, WORKFLOW_FAILED, WORKFLOW_CANCELED)
EVENT_TYPES = (*JOB_EVENT_TYPES, *WORKFLOW_EVENT_TYPES, SCHEDULE_RUN_FAILED)
# The events only a schedule's jobs raise (a job not made by a schedule never records them as wanted).
SCHEDULE_EVENT_TYPES = (SCHEDULE_RUN_FAILED,)
# A job's callback without "events" gets its end, whatever it is.
FINAL_EVENTS = (JOB_COMPLETED, JOB_FAILED, JOB_CANCELED)
# At most one job.progress event per job this often.
PROGRESS_EVENT_SECONDS = 5.0

_BY_STATUS = {
    JobStatus.PROCESSING: JOB_STARTED,
    JobStatus.COMPLETED: JOB_COMPLETED,
    JobStatus.FAILED: JOB_FAILED,
    JobStatus.CANCELED: JOB_CANCELED,
}


def workflow_event_for(status: str) -> str | None:
    """The event of a workflow ending in `status` (None for a status that is not an end)."""
    return {"COMPLETED": WORKFLOW_COMPLETED, "FAILED": WORKFLOW_FAILED, "CANCELED": WORKFLOW_CANCELED}.get(str(status))


def events_for_status(status: str, *, scheduled: bool = False) -> list[str]:
    """Every event a job raises on entering `status` (none: QUEUED, SCHEDULED); a schedule's job that FAILED raises schedule.run_failed too."""
    own = _BY_STATUS.get(status)
    out = [own] if own else []
    if scheduled and status == JobStatus.FAILED:
        out.append(SCHEDULE_RUN_FAILED)
    return out


_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32: ids sort by time as strings


def _base32(number: int, length: int) -> str:
    out = []
    for _ in range(length):
        number, digit = divmod(number, 32)
        out.append(_ALPHABET[digit])
    return "".join(reversed(out))


def new_event_id(*, now: float | None = None) -> str:
    """`evt_` + 10 characters of milliseconds + 16 random ones: unique, and sorted by creation time."""
    millis = int((time.time() if now is None else now) * 1000)
    return "evt_" + _base32(millis, 10) + _base32(int.from_bytes(os.urandom(10), "big"), 16)


def event_time(event_id: str) -> float | None:
    """When the event was made (epoch seconds), read back from its id; None for an id not made by new_event_id."""
    digits = event_id[4:14] if event_id.startswith("evt_") else ""
    if len(digits) != 10 or any(c not in _ALPHABET for c in digits):
        return None
    millis = 0
    for c in digits:
        millis = millis * 32 + _ALPHABET.index(c)
    return millis / 1000
