"""The items of a recurring schedule: checked and stored in S3 once, copied into each run's item job.

A schedule of an item type keeps its items as two objects under
`schedules/<schedule id>/`: the NDJSON itself and its chunk index (line count,
chunk byte ranges, lines refused with on_invalid=skip). The schedule item in
DynamoDB only names them, so the conditional write of every firing stays small.
A run copies the NDJSON to `items/<job id>.ndjson` (one CopyObject, server side)
and submits an item job over the stored ranges: the job owns its copy and
expires with it, and an edit or a deletion of the schedule can remove the
schedule's objects without touching a run that already started.

Requests per run: one GetItem (is the run's job there already?), one GetObject
(the index), one CopyObject, then what job_submit_items makes.
"""

import io
import json
import uuid
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import GetError, PynamoDBConnectionError

from jobs import objects
from jobs.exceptions import QueueUnavailable, StoreUnavailable
from jobs.services import publishing
from jobs.services.store import logger, store_error
from jobs.services.items.files import items_file_store
from jobs.services.items.submission import ItemsSource, job_submit_items
from jobs.states import JobStatus
from jobs.tables import JOB_SK, Job
from jobs.tables.schedules import Schedule

PREFIX = "schedules/"
INDEX_SUFFIX = ".index.json"


@dataclass
class StoredItems:
    """What a schedule records of its items (the fields of the same names on Schedule)."""

    items_object: str
    items_total: int
    items_invalid: int
    chunk_size: int


def items_stream(values: list) -> io.BytesIO:
    """Inline items as an NDJSON file: one JSON value per line, read like an upload."""
    lines = (json.dumps(v, separators=(",", ":"), ensure_ascii=False) for v in values)
    return io.BytesIO("\n".join(lines).encode("utf-8"))


def schedule_items_store(
    *, schedule_id: str, type: str, stream, chunk_size: int | None = None, on_invalid: str = "reject",
) -> StoredItems:
    """Check every line (InvalidItems, EmptyItemsFile, TooManyLines: nothing stored), then store the NDJSON and its index.

    `stream` is a seekable binary file (an upload, or items_stream(values)).
    Requests: the upload (multipart when large) and one PutObject.
    """
    key = f"{PREFIX}{schedule_id}/{uuid.uuid4().hex}.ndjson"
    source = items_file_store(type=type, stream=stream, chunk_size=chunk_size, on_invalid=on_invalid, key=key)
    size = source.chunk_size
    index = {"total": source.total, "chunk_size": size, "ranges": [list(r) for r in source.ranges],
             "invalid": {str(line): message for line, message in source.invalid.items()},
             "invalid_count": source.invalid_count, "digest": source.digest}
    try:
        objects.json_put(key=key + INDEX_SUFFIX, value=index)
    except (BotoCoreError, ClientError) as exc:
        raise StoreUnavailable("The file store is unavailable; try again shortly.") from exc
    logger.info("schedule %s: %s items stored in %s", schedule_id, source.total, key)
    return StoredItems(items_object=key, items_total=source.total, items_invalid=source.invalid_count, chunk_size=size)


def schedule_items_delete(*, items_object: str | None) -> None:
    """Remove a schedule's stored items (after an edit replaced them, or the schedule was deleted); best effort."""
    if not items_object:
        return
    try:
        objects.objects_delete(keys=[items_object, items_object + INDEX_SUFFIX])
    except (BotoCoreError, ClientError) as exc:  # an orphan costs storage, not correctness
        logger.warning("schedule items %s could not be deleted: %s", items_object, exc)


def _existing(job_id: str) -> Job | None:
    try:
        return Job.get(job_id, JOB_SK, consistent_read=True)
    except Job.DoesNotExist:
        return None
    except (GetError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc


def _index(schedule: Schedule, items: str) -> dict | None:
    """The chunk index of stored items; None if they are gone (or unreadable)."""
    try:
        return objects.json_get(key=items + INDEX_SUFFIX)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied", "403"):
            logger.warning("schedule %s: its items %s are missing from S3", schedule.schedule_id, items)
            return None
        raise StoreUnavailable("The file store is unavailable; the run is created at a later tick.") from exc
    except BotoCoreError as exc:
        raise StoreUnavailable("The file store is unavailable; the run is created at a later tick.") from exc


def schedule_items_job_create(
    *, schedule: Schedule, job_id: str, due_at: int, message: str, items_object: str | None = None,
) -> Job:
    """Create (once: the id is derived from the schedule and the due time) the item job of one run, and queue its chunks.

    `items_object` is the schedule's items when the run was claimed (default: its
    items now), so that every scheduler completing this run copies the same file and
    writes the same chunks. A run whose job exists already is not written again; its
    chunks are only queued again while it is QUEUED (a duplicate chunk message never
    runs a chunk twice). Two schedulers creating the run at once write each chunk
    once (conditional writes: jobs.services.items.submission), and one of them the job.
    """
    job = _existing(job_id)
    if job is None:
        items = items_object or schedule.items_object
        index = _index(schedule, items)
        if index is None and schedule.items_object and items != schedule.items_object:
            items = schedule.items_object  # the claimed items are gone: the schedule's new ones
            index = _index(schedule, items)
        if index is None:
            raise StoreUnavailable(f"The items of schedule {schedule.schedule_id} ({items}) are missing from S3; "
                                   "give the schedule new items.")
        job_object = f"items/{job_id}.ndjson"  # the same bytes whoever copies them: the items are fixed by the claim
        objects.object_copy(source=items, target=job_object)
        source = ItemsSource(total=int(index["total"]), object_key=job_object,
                             ranges=[tuple(r) for r in index["ranges"]],
                             invalid={int(line): text for line, text in index["invalid"].items()},
                             invalid_count=int(index.get("invalid_count", len(index["invalid"]))), digest=index["digest"])
        try:
            job, created = job_submit_items(
                owner=schedule.owner, name=schedule.name, type=schedule.type, payload=schedule.payload, source=source,
                chunk_size=int(index["chunk_size"]), max_failed_ratio=schedule.max_failed_ratio, job_id=job_id,
                schedule_id=schedule.schedule_id, message=message, due_at=due_at, priority=schedule.priority,
            )
        except QueueUnavailable:
            return Job.get(job_id, JOB_SK, consistent_read=True)  # stored QUEUED: the recovery pass queues its chunks
        if created:
            return job
    if job.status == JobStatus.QUEUED:
        try:
            publishing.chunks_publish_all(job_id=job_id, chunks_total=job.chunks_total or 0, **publishing.job_route(job))
        except QueueUnavailable:
            pass  # stored QUEUED: the recovery pass queues its chunks
    return job


def schedule_items_replace(schedule: Schedule, changes: dict) -> tuple[dict, StoredItems | None]:
    """An edit's new items (`items`, `items_file`; `items: None` drops them): stored before the write; else (.., None)."""
    if "items" not in changes and changes.get("items_file") is None:
        return {}, None
    if changes.get("items") is None and changes.get("items_file") is None and not schedule.items_object:
        return {}, None  # items: null on a schedule without items changes nothing
    options = {"max_failed_ratio": changes.get("max_failed_ratio", schedule.max_failed_ratio),
               "on_invalid": changes.get("on_invalid") or schedule.on_invalid or "reject"}
    if changes.get("items_file") is None and changes.get("items") is None:
        return options, StoredItems(items_object=None, items_total=0, items_invalid=0, chunk_size=0)
    stream = changes["items_file"] if changes.get("items_file") is not None else items_stream(changes["items"])
    stored = schedule_items_store(schedule_id=schedule.schedule_id, type=changes.get("type", schedule.type), stream=stream,
                                  chunk_size=changes.get("chunk_size") or schedule.chunk_size, on_invalid=options["on_invalid"])
    return options, stored
