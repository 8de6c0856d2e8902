"""Submission of an item job: check every item, write the chunks and the job (single table), queue one message per chunk.

Requests for N items in C chunks: ceil(C / 25) BatchWriteItem (unprocessed
items retried by PynamoDB), one PutItem for the job (a TransactWriteItems with
an Idempotency-Key), ceil(C / 10) SendMessageBatch.
"""

import math
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
from jobs.services.store import entry, is_condition_failure, json_bytes, logger, store_error, utcnow
from jobs.services.jobs.submission import due_plan, expires_after, idempotent_seen, save_new, submit_idempotent, with_run_at
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
    # The first bad lines (line, 1-based -> why), and how many there are in all; with
    # on_invalid=skip the chunk runner records each of them as a failed item when it gets there.
    invalid: dict = field(default_factory=dict)
    invalid_count: int = 0
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
    invalid, count = {}, 0
    for index, value in enumerate(values):
        try:
            item_check(job_type, value)
        except Exception as exc:  # BadItem or the type's InvalidItem
            count += 1
            if len(invalid) < MAX_BAD_LINES_LISTED:
                invalid[index + 1] = str(exc) or exc.__class__.__name__
    if count and on_invalid != "skip":
        raise items_refuse(invalid, total_bad=count)
    return ItemsSource(total=len(values), values=values, invalid=invalid, invalid_count=count)


def chunk_size_for(*, total: int, chunk_size: int) -> int:
    """The chunk size used: `chunk_size`, raised so that a job has at most BATCHLAB_MAX_CHUNKS chunks."""
    return max(int(chunk_size), math.ceil(total / settings.BATCHLAB_MAX_CHUNKS))


def inline_cuts(values: list, chunk_size: int) -> list[tuple[int, int, int]]:
    """(first line, count, bytes) per chunk of inline items: at most `chunk_size` items and
    BATCHLAB_CHUNK_MAX_BYTES of JSON each (one item alone may pass it; an item is at most BATCHLAB_MAX_ITEM_BYTES)."""
    cuts, first, count, size = [], 1, 0, 0
    limit = settings.BATCHLAB_CHUNK_MAX_BYTES
    for index, value in enumerate(values):
        item_bytes = json_bytes(value) + 1
        if count and (count >= chunk_size or size + item_bytes > limit):
            cuts.append((first, count, size))
            first, count, size = index + 1, 0, 0
        count += 1
        size += item_bytes
    if count:
        cuts.append((first, count, size))
    return cuts


def _chunks(job_id: str, source: ItemsSource, chunk_size: int, expires, available_at: int) -> list[Chunk]:
    chunks = []
    if source.values is not None:
        specs = [(first, count, None, size) for first, count, size in inline_cuts(source.values, chunk_size)]
    else:
        specs = [(first, count, [offset, length], None) for first, count, offset, length in source.ranges]
    for number, (first_line, count, byte_range, size) in enumerate(specs, start=1):
        chunks.append(Chunk(
            job_id, chunk_sk(number), number=number, chunk_status=ChunkStatus.PENDING, first_line=first_line,
            item_count=count, items=source.values[first_line - 1:first_line - 1 + count] if source.values is not None else None,
            items_bytes=size, items_range=byte_range, failed=0, succeeded=0, skipped=0, attempts=0,
            max_attempts=settings.BATCHLAB_MAX_ATTEMPTS, available_at=available_at, expires_at=expires,
        ))
    return chunks


def item_job_build(
    *, job_id: str, owner: str, name: str, type: str, payload: dict, source: ItemsSource, size: int, asked: int,
    status: str, due: int | None = None, expires=None, message: str | None = None, max_failed_ratio: float | None = None,
    schedule_id: str | None = None, due_at: int | None = None, priority: str | None = None,
    concurrency_key: str | None = None,
) -> tuple[Job, list[Chunk]]:
    """A new item job and its chunks (not saved), in `status` (QUEUED, SCHEDULED, or a workflow step's WAITING)."""
    now = utcnow()
    available = max(int(now.timestamp()), due or 0)
    expires = expires if expires is not None else expires_after(run_at=None, now=now)
    chunks = _chunks(job_id, source, size, expires, available)
    text = (message or f"Submitted by {owner or 'anonymous'}").rstrip(".")
    text += f": {source.total} items in {len(chunks)} chunks"
    if size != asked:
        text += f" (chunk_size raised from {asked} to {size}: at most {settings.BATCHLAB_MAX_CHUNKS} chunks per job)"
    text += f", {source.invalid_count} invalid items to be recorded as failed." if source.invalid_count else "."
    if due is not None:
        text += f" Due at {datetime.fromtimestamp(due, tz=timezone.utc).isoformat(timespec='seconds')}."
    job = Job(
        job_id=job_id, name=name, type=type, payload=payload, status=status, owner=owner,
        created_at=now, updated_at=now, available_at=available, attempts=0,
        max_attempts=settings.BATCHLAB_MAX_ATTEMPTS, expires_at=expires,
        items_total=source.total, items_succeeded=0, items_failed=0, items_skipped=0,
        chunks_total=len(chunks), chunks_done=0, chunk_size=size,
        max_failed_ratio=1.0 if max_failed_ratio is None else float(max_failed_ratio),
        items_object=source.object_key, progress_total=source.total,
        due_at=due if due is not None else due_at, due_shard=DUE_SHARD if status == JobStatus.SCHEDULED else None, schedule_id=schedule_id,
        timeline=[entry("submitted", status=status, message=text)],
        priority=str(priority or type_limits(type=type).priority), concurrency_key=concurrency_key,
    )
    return job, chunks


def items_body(*, name: str, type: str, payload: dict, source: ItemsSource, chunk_size: int | None,
               max_failed_ratio: float | None, run_at: datetime | None, priority: str | None = None,
               concurrency_key: str | None = None, webhook: dict | None = None) -> dict:
    """What an Idempotency-Key replay of an item job is compared by (a priority or a key only when given)."""
    body = {"name": name, "type": type, "payload": payload, "items": source.values, "file": source.digest,
            "chunk_size": chunk_size, "max_failed_ratio": max_failed_ratio}
    body.update({k: str(v) for k, v in (("priority", priority), ("concurrency_key", concurrency_key)) if v is not None})
    if webhook:
        body["webhook"] = webhook
    return with_run_at(body, run_at)


def job_submit_items(
    *, owner: str, name: str, type: str, payload: dict, source: ItemsSource, chunk_size: int | None = None,
    max_failed_ratio: float | None = None, idempotency_key: str | None = None, publish: bool = True,
    run_at: datetime | None = None, job_id: str | None = None, schedule_id: str | None = None, message: str | None = None,
    due_at: int | None = None, asked_chunk_size: int | None = None, priority: str | None = None,
    concurrency_key: str | None = None, webhook: dict | None = None,
) -> tuple[Job, bool]:
    """Store a new QUEUED (or SCHEDULED) item job with its chunks, then queue its chunks; return (job, created).

    With an Idempotency-Key seen before from this owner, nothing is written: the
    key is looked up first (one GetItem) and its job comes back (created=False),
    or IdempotencyKeyReused for another body.

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
    asked = int(asked_chunk_size or chunk_size or job_type.items.chunk_size)
    # A file's ranges were cut by its scan (with the size raised there when it had to be).
    size = chunk_size_for(total=source.total, chunk_size=asked) if source.values is not None else int(chunk_size or asked)
    if source.total == 0:
        raise InvalidPayload({"items": ["Give at least one item."]})
    if idempotency_key is not None:
        body = items_body(name=name, type=type, payload=payload, source=source, chunk_size=asked,
                          max_failed_ratio=max_failed_ratio, run_at=run_at, priority=priority, concurrency_key=concurrency_key,
                          webhook=webhook)
        seen = idempotent_seen(owner=owner, key=idempotency_key, body=body)
        if seen is not None:
            return seen, False  # a replay: nothing written, nothing queued again
    now = utcnow()
    due, status = due_plan(run_at=run_at, now=now)
    derived, job_id = job_id is not None, job_id or str(uuid.uuid4())
    job, chunks = item_job_build(job_id=job_id, owner=owner, name=name, type=type, payload=payload, source=source,
                                 size=size, asked=asked, status=status, due=due, expires=expires_after(run_at=run_at, now=now),
                                 message=message, max_failed_ratio=max_failed_ratio, schedule_id=schedule_id, due_at=due_at,
                                 priority=priority, concurrency_key=concurrency_key)
    available = int(job.available_at)
    webhooks.hooks_apply(job, webhooks.job_hooks(owner=owner, callback=webhook, scheduled=schedule_id is not None))
    try:
        if derived:
            chunks_write_once(chunks)
        else:
            with Chunk.batch_write() as batch:
                for chunk in chunks:
                    batch.save(chunk)
        if idempotency_key is None:
            if not save_new(job) and derived:
                return Job.get(job_id, JOB_SK, consistent_read=True), False
        else:
            existing = submit_idempotent(job=job, owner=owner, key=idempotency_key, body=body)
            if existing is not None:
                return existing, False
    except (PutError, PynamoDBConnectionError, TransactWriteError, PynamoDBException) as exc:
        raise store_error(exc) from exc
    logger.info("item job %s submitted type=%s owner=%s items=%s chunks=%s status=%s",
                job_id, type, owner, source.total, len(chunks), status)
    if publish and status == JobStatus.QUEUED:
        publishing.chunks_publish_all(job_id=job_id, chunks_total=len(chunks), delay_seconds=max(0, available - int(time.time())),
                                      **publishing.job_route(job))
    return job, True


TRANSACTION_ITEMS = 100  # TransactWriteItems takes at most 100 writes


def chunks_write_once(chunks: list[Chunk]) -> None:
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


__all__ = ["ON_INVALID", "BadItem", "ItemsSource", "chunk_size_for", "chunks_write_once", "item_check", "item_job_build", "items_inline",
           "items_refuse", "job_submit_items"]
