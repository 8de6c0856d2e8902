"""Submission of an item job: check every item, write the chunks and the job (single table), queue one message per chunk.

Requests for N items in C chunks: ceil(C / 25) BatchWriteItem (unprocessed
items retried by PynamoDB), one PutItem for the job (a TransactWriteItems with
an Idempotency-Key), ceil(C / 10) SendMessageBatch.
"""

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from django.conf import settings
from pynamodb.exceptions import PutError, PynamoDBConnectionError, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from jobs.exceptions import InvalidItems, InvalidPayload
from jobs.handlers.registry import job_type_get
from jobs.items import ON_INVALID, BadItem, split_item
from jobs.selectors.flow import type_limits
from jobs.services import publishing, webhooks
from jobs.services.store import entry, is_condition_failure, logger, store_error, utcnow
from jobs.services.jobs.submission import due_plan, expires_after, save_new, submit_idempotent
from jobs.states import ChunkStatus, JobStatus
from jobs.tables import DUE_SHARD, JOB_SK, Chunk, Job, chunk_sk

MAX_BAD_LINES_LISTED = 20


@dataclass
class ItemsSource:
    """The items of one submission: inline values, or chunk byte ranges of a file already in S3."""

    total: int
    values: list | None = None
    object_key: str | None = None
    # per chunk of a file: (first line, item count, byte offset, byte length)
    ranges: list = field(default_factory=list)
    # line (1-based) -> why it was refused; with on_invalid=skip these become failed items
    invalid: dict = field(default_factory=dict)
    # SHA-256 of a file's content: what an Idempotency-Key replay of the same upload is compared by
    digest: str | None = None
    # items per chunk the ranges were cut by (a stored file)
    chunk_size: int | None = None


def item_problem(line: int, message: str) -> str:
    return f"line {line}: {message}"


def items_refuse(invalid: dict[int, str], *, total_bad: int | None = None) -> InvalidItems:
    """The error for a submission with bad items: the first ones by line number, then a count."""
    bad = sorted(invalid.items())
    count = total_bad if total_bad is not None else len(bad)
    listed = [item_problem(line, message) for line, message in bad[:MAX_BAD_LINES_LISTED]]
    if count > len(listed):
        listed.append(f"... and {count - len(listed)} more bad lines")
    return InvalidItems(
        f"{count} of the items cannot be taken; nothing was accepted (on_invalid=skip records them as failed items).",
        errors={"items": listed}, bad_lines=count,
    )


def item_check(job_type, value) -> None:
    """Raise BadItem (or the type's InvalidItem) if `value` (one submitted item) cannot be taken."""
    item, _key = split_item(value)
    job_type.items.check_item(item)


def items_inline(*, type: str, values: list, on_invalid: str = "reject") -> ItemsSource:
    """Check inline items one by one (every bad one is listed by line, i.e. position + 1)."""
    job_type = job_type_get(type)
    invalid = {}
    for index, value in enumerate(values):
        try:
            item_check(job_type, value)
        except Exception as exc:  # BadItem or the type's InvalidItem
            invalid[index + 1] = str(exc) or exc.__class__.__name__
    if invalid and on_invalid != "skip":
        raise items_refuse(invalid)
    return ItemsSource(total=len(values), values=values, invalid=invalid)


def _chunks(job_id: str, source: ItemsSource, chunk_size: int, expires, available_at: int) -> list[Chunk]:
    chunks = []
    if source.values is not None:
        specs = [(start + 1, len(source.values[start:start + chunk_size]), None) for start in range(0, source.total, chunk_size)]
    else:
        specs = [(first, count, [offset, length]) for first, count, offset, length in source.ranges]
    for number, (first_line, count, byte_range) in enumerate(specs, start=1):
        outcomes, failed = None, 0
        bad = {line: msg for line, msg in source.invalid.items() if first_line <= line < first_line + count}
        if bad:
            outcomes = [None] * count
            for line, message in bad.items():
                outcomes[line - first_line] = {"e": {"code": "invalid_item", "message": message}, "invalid": True}
            failed = len(bad)
        chunks.append(Chunk(
            job_id, chunk_sk(number), number=number, chunk_status=ChunkStatus.PENDING, first_line=first_line,
            item_count=count, items=source.values[first_line - 1:first_line - 1 + count] if source.values is not None else None,
            items_range=byte_range, outcomes=outcomes, failed=failed, succeeded=0, skipped=0, attempts=0,
            available_at=available_at, expires_at=expires,
        ))
    return chunks


def job_submit_items(
    *, owner: str, name: str, type: str, payload: dict, source: ItemsSource, chunk_size: int | None = None,
    max_failed_ratio: float | None = None, idempotency_key: str | None = None, publish: bool = True,
    run_at: datetime | None = None, job_id: str | None = None, schedule_id: str | None = None, message: str | None = None,
    due_at: int | None = None, priority: str | None = None, concurrency_key: str | None = None, webhook: dict | None = None,
) -> tuple[Job, bool]:
    """Store a new QUEUED (or SCHEDULED) item job with its chunks, then queue its chunks; return (job, created).

    Items are checked before (items_inline / the file reader); the payload holds
    the type's options (InvalidPayload). Chunks are written first, the job last,
    so that a job is never seen without its chunks. If queueing fails the job
    stays QUEUED and QueueUnavailable is raised: recovery queues its chunks.
    With `run_at` (a delayed item job): up to BATCHLAB_SCHEDULED_THRESHOLD_SECONDS
    ahead the chunks' messages carry an SQS delay; further ahead the job is stored
    SCHEDULED with its chunks and nothing is published until the scheduler
    releases it (jobs.services.schedules.delayed). `job_id` (a schedule's run: derived from
    the schedule and the due time, `due_at`) makes the creation happen once: if a
    job with that id exists, it comes back with created=False. `priority` (default:
    the type's) and `concurrency_key` as for job_submit: every chunk takes them.
    """
    job_type = job_type_get(type)
    payload = job_type.validate_options(payload)
    size = int(chunk_size or job_type.items.chunk_size)
    if source.total == 0:
        raise InvalidPayload({"items": ["Give at least one item."]})
    now = utcnow()
    due, status = due_plan(run_at=run_at, now=now)
    available = max(int(now.timestamp()), due or 0)
    expires = expires_after(run_at=run_at, now=now)
    derived, job_id = job_id is not None, job_id or str(uuid.uuid4())
    chunks = _chunks(job_id, source, size, expires, available)
    text = (message or f"Submitted by {owner or 'anonymous'}").rstrip(".")
    text += f": {source.total} items in {len(chunks)} chunks"
    text += f", {len(source.invalid)} invalid items recorded as failed." if source.invalid else "."
    if due is not None:
        text += f" Due at {datetime.fromtimestamp(due, tz=timezone.utc).isoformat(timespec='seconds')}."
    job = Job(
        job_id=job_id, name=name, type=type, payload=payload, status=status, owner=owner,
        created_at=now, updated_at=now, available_at=available, attempts=0,
        max_attempts=settings.BATCHLAB_MAX_ATTEMPTS, expires_at=expires,
        items_total=source.total, items_succeeded=0, items_failed=len(source.invalid), items_skipped=0,
        chunks_total=len(chunks), chunks_done=0, chunk_size=size,
        max_failed_ratio=1.0 if max_failed_ratio is None else float(max_failed_ratio),
        items_object=source.object_key, progress_total=source.total,
        due_at=due if due is not None else due_at, due_shard=DUE_SHARD if status == JobStatus.SCHEDULED else None, schedule_id=schedule_id,
        timeline=[entry("submitted", status=status, message=text)],
        priority=str(priority or type_limits(type=type).priority), concurrency_key=concurrency_key,
    )
    webhooks.hooks_apply(job, webhooks.job_hooks(owner=owner, callback=webhook))
    try:
        if derived:
            _chunks_write_once(chunks)
        else:
            with Chunk.batch_write() as batch:
                for chunk in chunks:
                    batch.save(chunk)
        if idempotency_key is None:
            if not save_new(job) and derived:
                return Job.get(job_id, JOB_SK, consistent_read=True), False
        else:
            body = {"name": name, "type": type, "payload": payload, "items": source.values, "file": source.digest,
                    "chunk_size": size, "max_failed_ratio": max_failed_ratio, **({"webhook": webhook} if webhook else {})}
            body.update({k: str(v) for k, v in (("priority", priority), ("concurrency_key", concurrency_key)) if v is not None})
            existing = submit_idempotent(job=job, owner=owner, key=idempotency_key, body=body)
            if existing is not None:
                return existing, False
    except (PutError, PynamoDBConnectionError, TransactWriteError, PynamoDBException) as exc:
        raise store_error(exc) from exc
    logger.info("item job %s submitted type=%s owner=%s items=%s chunks=%s status=%s",
                job_id, type, owner, source.total, len(chunks), status)
    if publish and status == JobStatus.QUEUED:
        publishing.chunks_publish(job_id=job_id, numbers=[c.number for c in chunks],
                                  delay_seconds=max(0, available - int(time.time())), **publishing.job_route(job))
    return job, True


TRANSACTION_ITEMS = 100  # TransactWriteItems takes at most 100 writes


def _chunks_write_once(chunks: list[Chunk]) -> None:
    """Write chunks that do not exist yet; leave the ones that do (a run's id is derived: another scheduler may be
    creating it too, and its workers may be running them already).

    TransactWriteItems of 100 conditional puts (twice the write units of a
    BatchWriteItem); a group refused because one of its chunks exists is written
    one conditional PutItem at a time.
    """
    for start in range(0, len(chunks), TRANSACTION_ITEMS):
        group = chunks[start:start + TRANSACTION_ITEMS]
        try:
            with TransactWrite(connection=Chunk._get_connection().connection) as transaction:
                for chunk in group:
                    transaction.save(chunk, condition=Chunk.sk.does_not_exist())
            continue
        except TransactWriteError as exc:
            if not is_condition_failure(exc):
                raise
        for chunk in group:
            try:
                chunk.save(condition=Chunk.sk.does_not_exist())
            except PutError as exc:
                if not is_condition_failure(exc):
                    raise


__all__ = ["ON_INVALID", "BadItem", "ItemsSource", "item_check", "items_inline", "items_refuse", "job_submit_items"]
