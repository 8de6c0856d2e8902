"""JobStatus, ChunkStatus and the transitions allowed between them: the one description of the state machine; pure, no I/O.

Every write that changes a job's (or a chunk's) status names one `Transition` below;
the services build the DynamoDB condition of that write from the transition's
sources, so a new transition (or a new source of one) is added here and nowhere else.
An item job's own status moves with the same transitions as any job (QUEUED ->
PROCESSING -> COMPLETED/FAILED/CANCELED), driven by its chunks: the first chunk
claimed starts it, the chunk that finishes last ends it. A workflow's step is a job
that starts WAITING for its parents: the write of its last parent's end releases it
(QUEUED) or ends it (CANCELED); a workflow itself moves through `WorkflowStatus`.
"""

from dataclasses import dataclass
from enum import StrEnum


class JobStatus(StrEnum):
    SCHEDULED = "SCHEDULED"  # waits in DynamoDB for its due time (further ahead than an SQS delay reaches)
    WAITING = "WAITING"  # a workflow's step whose parents are not all final (nothing on the queue)
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})


class ChunkStatus(StrEnum):
    """A chunk of an item job: PENDING (its message is on the queue) -> PROCESSING -> DONE or CANCELED."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    DONE = "DONE"
    CANCELED = "CANCELED"


FINAL_CHUNK_STATUSES = frozenset({ChunkStatus.DONE, ChunkStatus.CANCELED})


class WorkflowStatus(StrEnum):
    """A workflow: SUBMITTING (its steps being written; never listed) -> RUNNING -> COMPLETED | FAILED | CANCELED.

    It ends when every step is final: COMPLETED when every one completed, CANCELED
    when it was canceled (or a step was, and none failed), else FAILED. A retry
    takes a FAILED or CANCELED workflow back to RUNNING.
    """

    SUBMITTING = "SUBMITTING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


FINAL_WORKFLOW_STATUSES = frozenset({WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.CANCELED})


@dataclass(frozen=True)
class Transition:
    """A named move of a job (or a chunk) from any of `sources` to `target`."""

    name: str
    sources: frozenset
    target: str

    def allows(self, status: str) -> bool:
        return status in self.sources


def _t(name: str, sources: set, target: str) -> Transition:
    return Transition(name=name, sources=frozenset(sources), target=target)


_Q, _P, _C, _F, _X = JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED
_S, _W = JobStatus.SCHEDULED, JobStatus.WAITING

# The worker's side. A claim takes a QUEUED job, or a PROCESSING one whose lease
# expired (that extra guard is the lease's, not the state machine's).
CLAIM = _t("claim", {_Q, _P}, _P)
HEARTBEAT = _t("heartbeat", {_P}, _P)  # progress, lease renewal, log lines: fenced by the claim token
COMPLETE = _t("complete", {_P}, _C)
FAIL = _t("fail", {_P}, _F)
RETRY_LATER = _t("retry_later", {_P}, _Q)  # a transient error: back to the queue with a backoff
STOP_CANCELED = _t("stop_canceled", {_P}, _X)  # the handler saw the cancel request
# Delayed jobs (a submission far ahead stores the job SCHEDULED; see jobs.services.schedules.delayed).
RELEASE_DUE = _t("release_due", {_S}, _Q)  # the scheduler: its due time came
RUN_NOW = _t("run_now", {_S}, _Q)  # a user or staff: do not wait for the due time
# Users and staff.
CANCEL = _t("cancel", {_S, _Q}, _X)
REQUEST_CANCEL = _t("request_cancel", {_P}, _P)  # a running job stops cooperatively
RETRY = _t("retry", {_F, _X}, _Q)  # also the dead-letter redrive of a FAILED job
RETRY_ITEMS = _t("retry_items", {_C, _F, _X}, _Q)  # an item job: re-run only the chunks with failed items
REPUBLISH = _t("republish", {_Q}, _Q)  # staff requeue, or recovery of a message never delivered
# A workflow's step (jobs.services.workflows). Released or ended by the write of its last
# parent's end (or, for a first step, of its workflow's start); reset by a retry of the workflow.
RELEASE = _t("release", {_W}, _Q)  # every parent final, and it may run
SKIP = _t("skip", {_W}, _X)  # it may not run: a parent failed (policy "fail"), its workflow was canceled, a callback that does not apply
WAIT_AGAIN = _t("wait_again", {_C, _F, _X}, _W)  # a retry of the workflow re-runs it after its parents
# Recovery.
LEASE_EXPIRED = _t("lease_expired", {_P}, _Q)  # the worker died: run it again
GIVE_UP = _t("give_up", {_Q, _P}, _F)  # no attempts left, or the message was dead-lettered
# An item job, driven by its chunks.
START_CHUNKS = _t("start_chunks", {_Q}, _P)  # the first chunk claimed
FINISH_ITEMS = _t("finish_items", {_P}, _C)  # the last chunk done: every item ran (some may have failed)
FAIL_ITEMS = _t("fail_items", {_P}, _F)  # the last chunk done, failed share over max_failed_ratio
STOP_ITEMS = _t("stop_items", {_Q, _P}, _X)  # the last chunk done after a cancel request

ALL_TRANSITIONS: tuple[Transition, ...] = (
    CLAIM, HEARTBEAT, COMPLETE, FAIL, RETRY_LATER, STOP_CANCELED,
    RELEASE_DUE, RUN_NOW, CANCEL, REQUEST_CANCEL, RETRY, RETRY_ITEMS, REPUBLISH, RELEASE, SKIP, WAIT_AGAIN,
    LEASE_EXPIRED, GIVE_UP, START_CHUNKS, FINISH_ITEMS, FAIL_ITEMS, STOP_ITEMS,
)

# The chunks of an item job. A claim takes a PENDING chunk, or a PROCESSING one
# whose lease expired (the lease's guard, as for jobs); every later write of the
# worker is fenced by the claim's token.
_CP, _CR, _CD, _CX = ChunkStatus.PENDING, ChunkStatus.PROCESSING, ChunkStatus.DONE, ChunkStatus.CANCELED
CHUNK_CLAIM = _t("chunk_claim", {_CP, _CR}, _CR)
CHUNK_HEARTBEAT = _t("chunk_heartbeat", {_CR}, _CR)  # lease renewal (with the outcomes so far, a checkpoint)
CHUNK_FINISH = _t("chunk_finish", {_CR}, _CD)  # with the job's counters, in one transaction
CHUNK_STOP = _t("chunk_stop", {_CP, _CR}, _CX)  # the job was canceled: skipped, or stopped between items
CHUNK_LEASE_EXPIRED = _t("chunk_lease_expired", {_CR}, _CP)  # its worker died: recovery runs it again, alone
CHUNK_RETRY_LATER = _t("chunk_retry_later", {_CR}, _CP)  # its time limit or a store fault: the rest runs later
CHUNK_GIVE_UP = _t("chunk_give_up", {_CP, _CR}, _CD)  # no attempts left, or dead-lettered: its unrun items fail
CHUNK_RETRY = _t("chunk_retry", {_CD, _CX}, _CP)  # retry of the job's failed items (or of a canceled job)

ALL_CHUNK_TRANSITIONS: tuple[Transition, ...] = (
    CHUNK_CLAIM, CHUNK_HEARTBEAT, CHUNK_FINISH, CHUNK_STOP, CHUNK_LEASE_EXPIRED, CHUNK_RETRY_LATER, CHUNK_GIVE_UP,
    CHUNK_RETRY,
)

# source -> the statuses that may follow it, derived from the transitions above.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    status: frozenset(t.target for t in ALL_TRANSITIONS if status in t.sources) for status in JobStatus
}


CHUNK_TRANSITIONS: dict[ChunkStatus, frozenset[ChunkStatus]] = {
    status: frozenset(t.target for t in ALL_CHUNK_TRANSITIONS if status in t.sources) for status in ChunkStatus
}


def is_final(status: str) -> bool:
    return status in FINAL_STATUSES


def can_transition(*, source: str, target: str) -> bool:
    return JobStatus(target) in TRANSITIONS[JobStatus(source)]


def can_cancel(status: str) -> bool:
    return CANCEL.allows(status) or REQUEST_CANCEL.allows(status)


def can_retry(status: str) -> bool:
    return RETRY.allows(status)


def can_retry_items(status: str) -> bool:
    return RETRY_ITEMS.allows(status)


def is_chunk_final(status: str) -> bool:
    return status in FINAL_CHUNK_STATUSES


def can_run_now(status: str) -> bool:
    return RUN_NOW.allows(status)


class DeliveryStatus(StrEnum):
    """A webhook delivery: PENDING (a try is due, now or later) -> SENDING (claimed) -> DELIVERED, or FAILED after its last try."""

    PENDING = "PENDING"
    SENDING = "SENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


_DP, _DS, _DD, _DF = DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED
# A claim takes a due PENDING delivery, or a SENDING one whose lease expired (the lease's guard).
DELIVERY_CLAIM = _t("delivery_claim", {_DP, _DS}, _DS)
DELIVERY_SUCCEED = _t("delivery_succeed", {_DS}, _DD)  # a 2xx within the timeout
DELIVERY_RETRY_LATER = _t("delivery_retry_later", {_DS}, _DP)  # any other answer, or none: tried again later
DELIVERY_FAIL = _t("delivery_fail", {_DS}, _DF)  # its last try failed, a 410, or its endpoint is gone or disabled
DELIVERY_REDELIVER = _t("delivery_redeliver", {_DD, _DF}, _DP)  # a user asked for it again

ALL_DELIVERY_TRANSITIONS: tuple[Transition, ...] = (
    DELIVERY_CLAIM, DELIVERY_SUCCEED, DELIVERY_RETRY_LATER, DELIVERY_FAIL, DELIVERY_REDELIVER,
)
FINAL_DELIVERY_STATUSES = frozenset({_DD, _DF})


def is_delivery_final(status: str) -> bool:
    return status in FINAL_DELIVERY_STATUSES
