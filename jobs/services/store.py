"""What every service module shares: the clock, timeline entries, and conditions built from the state machine."""

import json
import logging
from datetime import datetime, timezone

from pynamodb.expressions.condition import Condition

from jobs.exceptions import StoreUnavailable
from jobs.states import ChunkStatus, Transition
from jobs.tables import Chunk, Job, TimelineEntry

logger = logging.getLogger("jobs.services")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def entry(event: str, *, status: str | None = None, message: str | None = None, worker: str | None = None) -> TimelineEntry:
    return TimelineEntry(at=utcnow(), event=event, status=status, message=message, worker=worker)


def append(*entries: TimelineEntry):
    """The update action that appends timeline entries (list_append, in the same write)."""
    return Job.timeline.set(Job.timeline.append(list(entries)))


def _status_attribute(transition: Transition):
    """Job.status for a job's transition, Chunk.chunk_status for a chunk's."""
    return Chunk.chunk_status if isinstance(transition.target, ChunkStatus) else Job.status


def allowed_by(transition: Transition, *, status: str | None = None) -> Condition:
    """DynamoDB condition: the item's status (a chunk's ChunkStatus) is a source of `transition`.

    With `status` (the status the caller read), the condition narrows to exactly
    that one, which must itself be a source: a write then applies only if the
    job has not moved since it was read.
    """
    attribute = _status_attribute(transition)
    if status is not None:
        if not transition.allows(status):
            raise ValueError(f"{transition.name} does not start from {status}")
        return attribute == status
    sources = sorted(transition.sources)
    return attribute == sources[0] if len(sources) == 1 else attribute.is_in(*sources)


def moves_to(transition: Transition) -> list:
    """The update action that sets the transition's target status (nothing for a same-status move)."""
    if transition.sources == {transition.target}:
        return []
    return [_status_attribute(transition).set(transition.target)]


REFUSED_IN_TRANSACTION = ("ConditionalCheckFailed", "TransactionConflict")


def is_condition_failure(exc: Exception) -> bool:
    """Whether DynamoDB refused the write by its condition (nothing written), not for a fault.

    A canceled transaction counts when a reason is a condition (or a conflicting
    transaction on the same item); one canceled for throttling or validation does not.
    """
    cause = getattr(exc, "cause_response_code", None)
    if cause == "TransactionCanceledException":
        reasons = [r for r in (getattr(exc, "cancellation_reasons", None) or []) if r is not None]
        return not reasons or any(r.code in REFUSED_IN_TRANSACTION for r in reasons)
    return cause == "ConditionalCheckFailedException"


def store_error(exc: Exception) -> StoreUnavailable:
    logger.warning("DynamoDB request failed: %s", exc)
    return StoreUnavailable()


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
