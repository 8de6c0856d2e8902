"""What every service module shares: the clock, bounded timeline entries, conditions built from the state machine, and the one reading of DynamoDB's errors.

`refusal_of(exc)` is the single place that says what a failed write means. A
refused condition is an answer about the item (nothing was written, and the
item is not as the writer assumed); a transaction conflict or a throttle says
nothing about the item (nothing was written: try the same write again); a fault
(no answer) may or may not have been applied. Every writer asks it, so no
writer takes a conflict for a refusal.
"""

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

from pynamodb.expressions.condition import Condition

from jobs.exceptions import StoreUnavailable
from jobs.states import ChunkStatus, Transition
from jobs.tables import Chunk, Job, TimelineEntry

logger = logging.getLogger("jobs.services")

# A timeline entry's message, and an error's message, are cut to this many bytes of UTF-8:
# the page shows a line, not a dump, and the item stays bounded (jobs.services.jobs.bounds).
MAX_ENTRY_BYTES = 500
MAX_MESSAGE_BYTES = 1000
# A timeline that would pass this many entries is compacted by the next write that may
# rewrite it (one conditional on the version it read): its first entries, a marker, its last.
MAX_TIMELINE_ENTRIES = 100
_KEEP_FIRST, _KEEP_LAST = 10, 49


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def truncate(text, limit: int = MAX_MESSAGE_BYTES) -> str:
    """`text` cut to at most `limit` bytes of UTF-8 (never inside a character), marked with an ellipsis when cut."""
    text = str(text)
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", errors="ignore") + "…"


def entry(event: str, *, status: str | None = None, message: str | None = None, worker: str | None = None) -> TimelineEntry:
    """A timeline entry; its message is truncated to MAX_MESSAGE_BYTES."""
    return TimelineEntry(at=utcnow(), event=event, status=status,
                         message=truncate(message, MAX_ENTRY_BYTES) if message is not None else None, worker=worker)


def append(*entries: TimelineEntry):
    """The update action that appends timeline entries (list_append, in the same write)."""
    return Job.timeline.set(Job.timeline.append(list(entries)))


def timeline_add(job: Job, *entries: TimelineEntry):
    """Append `entries`, or, when the timeline as read would pass MAX_TIMELINE_ENTRIES, set it compacted.

    Only for a write conditional on the version that was read: a rewrite must not
    drop an entry appended meanwhile.
    """
    current = list(job.timeline or [])
    if len(current) + len(entries) <= MAX_TIMELINE_ENTRIES:
        return append(*entries)
    return Job.timeline.set(timeline_compacted([*current, *entries]))


def timeline_compacted(entries: list) -> list:
    """The first and the last entries with a marker between them that says how many were dropped."""
    if len(entries) <= _KEEP_FIRST + _KEEP_LAST + 1:
        return list(entries)
    dropped = len(entries) - _KEEP_FIRST - _KEEP_LAST
    marker = entry("compacted", message=f"{dropped} entries dropped here to keep the job record small.")
    return [*entries[:_KEEP_FIRST], marker, *entries[-_KEEP_LAST:]]


def _status_attribute(transition: Transition):
    """Job.status for a job's transition, Chunk.chunk_status for a chunk's."""
    return Chunk.chunk_status if isinstance(transition.target, ChunkStatus) else Job.status


def allowed_by(transition: Transition, *, status: str | None = None) -> Condition:
    """DynamoDB condition: the item's status (a chunk's ChunkStatus) is a source of `transition`.

    With `status` (the status the caller read), the condition narrows to exactly
    that one, which must itself be a source: a write then applies only if the
    item has not moved since it was read.
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


class Answer(Enum):
    """What DynamoDB's answer to a failed write means."""

    REFUSED = "refused"  # a condition was false: nothing written; the item is not as the writer assumed
    CONFLICT = "conflict"  # another transaction touched one of the items at once: nothing written, try again
    THROTTLED = "throttled"  # over capacity (a hot key): nothing written, try again after a pause
    TOO_LARGE = "too_large"  # the item would pass DynamoDB's 400 KB: nothing written, never will be
    INVALID = "invalid"  # the request itself is wrong (a bug): nothing written, never will be
    FAULT = "fault"  # no answer (connection, timeout, 5xx): it may or may not have been applied


@dataclass(frozen=True)
class Refusal:
    answer: Answer
    # For a canceled transaction: the position of the operation whose condition was false (REFUSED).
    index: int | None = None


_THROTTLE_CODES = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                   "ThrottlingError", "ProvisionedThroughputExceeded"}


def refusal_of(exc: Exception) -> Refusal:
    """The one classifier of a failed DynamoDB write (PynamoDB's exceptions carry the cause's code)."""
    cause = getattr(exc, "cause_response_code", None)
    message = str(getattr(exc, "cause_response_message", None) or exc).lower()
    if cause == "TransactionCanceledException":
        reasons = list(getattr(exc, "cancellation_reasons", None) or [])
        codes = [getattr(r, "code", None) if r is not None else None for r in reasons]
        message += " ".join(str(getattr(r, "message", "") or "").lower() for r in reasons if r is not None)
        for index, code in enumerate(codes):
            if code == "ConditionalCheckFailed":
                return Refusal(Answer.REFUSED, index)
        if any(code == "TransactionConflict" for code in codes):
            return Refusal(Answer.CONFLICT)
        if any(code in _THROTTLE_CODES for code in codes):
            return Refusal(Answer.THROTTLED)
        if "item size" in message or any(code == "ItemCollectionSizeLimitExceeded" for code in codes):
            return Refusal(Answer.TOO_LARGE)
        return Refusal(Answer.INVALID if any(code == "ValidationError" for code in codes) else Answer.FAULT)
    if cause == "ConditionalCheckFailedException":
        return Refusal(Answer.REFUSED, 0)
    if cause in ("TransactionConflictException", "TransactionInProgressException"):
        return Refusal(Answer.CONFLICT)
    if cause in _THROTTLE_CODES:
        return Refusal(Answer.THROTTLED)
    if cause == "ValidationException":
        return Refusal(Answer.TOO_LARGE if "item size" in message else Answer.INVALID)
    return Refusal(Answer.FAULT)


def is_condition_failure(exc: Exception) -> bool:
    """Whether DynamoDB refused the write by one of its conditions (nothing written, and the item says why)."""
    return refusal_of(exc).answer is Answer.REFUSED


RETRYABLE = (Answer.CONFLICT, Answer.THROTTLED)
# A conflicting transaction or a throttle is tried again this many times in all, with full
# jitter below a doubling ceiling (25 ms, 50 ms, ... 1.6 s): about 3 s at most, then StoreBusy.
STORE_TRIES = 8
_BACKOFF_BASE, _BACKOFF_CAP = 0.025, 1.6


class StoreBusy(StoreUnavailable):
    """A write kept meeting conflicting transactions or throttling after every try (nothing written)."""

    code = "store_unavailable"
    default_detail = "The job store is busy; try again shortly."


def backoff_pause(attempt: int) -> None:
    """Full jitter below a doubling ceiling (25 ms, 50 ms, ... 1.6 s): between tries of a write that met a conflict."""
    time.sleep(random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** attempt)))


def store_retry(write, *, tries: int = STORE_TRIES, what: str = "write"):
    """Run `write()` again while DynamoDB answers with a conflict or a throttle (nothing was written then).

    Any other failure is raised as it came; after `tries` conflicts or throttles, StoreBusy.
    """
    for attempt in range(tries):
        try:
            return write()
        except Exception as exc:
            answer = refusal_of(exc).answer
            if answer not in RETRYABLE or attempt == tries - 1:
                if answer in RETRYABLE:
                    raise StoreBusy(f"The {what} met {answer.value} {tries} times; nothing was written.") from exc
                raise
            logger.info("%s: %s (try %s of %s); trying again", what, answer.value, attempt + 1, tries)
            backoff_pause(attempt)
    raise AssertionError("unreachable")


def store_error(exc: Exception) -> StoreUnavailable:
    logger.warning("DynamoDB request failed: %s", exc)
    return exc if isinstance(exc, StoreUnavailable) else StoreUnavailable()


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def json_bytes(value) -> int:
    """Bytes of `value` as compact JSON (what it adds to an item, near enough)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
