"""JobStatus and the transitions allowed between them: the one description of the state machine; pure, no I/O.

Every write that changes a job's status names one `Transition` below; the services
build the DynamoDB condition of that write from the transition's sources, so a new
transition (or a new source of one) is added here and nowhere else.
"""

from dataclasses import dataclass
from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})


@dataclass(frozen=True)
class Transition:
    """A named move of a job from any of `sources` to `target`."""

    name: str
    sources: frozenset[JobStatus]
    target: JobStatus

    def allows(self, status: str) -> bool:
        return status in self.sources


def _t(name: str, sources: set[JobStatus], target: JobStatus) -> Transition:
    return Transition(name=name, sources=frozenset(sources), target=target)


_Q, _P, _C, _F, _X = JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED

# The worker's side. A claim takes a QUEUED job, or a PROCESSING one whose lease
# expired (that extra guard is the lease's, not the state machine's).
CLAIM = _t("claim", {_Q, _P}, _P)
HEARTBEAT = _t("heartbeat", {_P}, _P)  # progress, lease renewal, log lines: fenced by the claim token
COMPLETE = _t("complete", {_P}, _C)
FAIL = _t("fail", {_P}, _F)
RETRY_LATER = _t("retry_later", {_P}, _Q)  # a transient error: back to the queue with a backoff
STOP_CANCELED = _t("stop_canceled", {_P}, _X)  # the handler saw the cancel request
# Users and staff.
CANCEL = _t("cancel", {_Q}, _X)
REQUEST_CANCEL = _t("request_cancel", {_P}, _P)  # a running job stops cooperatively
RETRY = _t("retry", {_F, _X}, _Q)  # also the dead-letter redrive of a FAILED job
REPUBLISH = _t("republish", {_Q}, _Q)  # staff requeue, or recovery of a message never delivered
# Recovery.
LEASE_EXPIRED = _t("lease_expired", {_P}, _Q)  # the worker died: run it again
GIVE_UP = _t("give_up", {_Q, _P}, _F)  # no attempts left, or the message was dead-lettered

ALL_TRANSITIONS: tuple[Transition, ...] = (
    CLAIM, HEARTBEAT, COMPLETE, FAIL, RETRY_LATER, STOP_CANCELED,
    CANCEL, REQUEST_CANCEL, RETRY, REPUBLISH, LEASE_EXPIRED, GIVE_UP,
)

# source -> the statuses that may follow it, derived from the transitions above.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    status: frozenset(t.target for t in ALL_TRANSITIONS if status in t.sources) for status in JobStatus
}


def is_final(status: str) -> bool:
    return status in FINAL_STATUSES


def can_transition(*, source: str, target: str) -> bool:
    return JobStatus(target) in TRANSITIONS[JobStatus(source)]


def can_cancel(status: str) -> bool:
    return CANCEL.allows(status) or REQUEST_CANCEL.allows(status)


def can_retry(status: str) -> bool:
    return RETRY.allows(status)
