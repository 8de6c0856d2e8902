"""JobStatus and the transitions allowed between them; pure, no I/O."""

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})

# QUEUED -> QUEUED is a scheduled retry or a republish by recovery;
# PROCESSING -> QUEUED is a transient failure or an expired lease being re-queued.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.CANCELED, JobStatus.FAILED}),
    JobStatus.PROCESSING: frozenset(
        {JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED}
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),
    JobStatus.CANCELED: frozenset({JobStatus.QUEUED}),
}


def is_final(status: str) -> bool:
    return status in FINAL_STATUSES


def can_transition(*, source: str, target: str) -> bool:
    return JobStatus(target) in TRANSITIONS[JobStatus(source)]


def can_cancel(status: str) -> bool:
    return status in (JobStatus.QUEUED, JobStatus.PROCESSING)


def can_retry(status: str) -> bool:
    return status in (JobStatus.FAILED, JobStatus.CANCELED)
