"""Submission of an item job from an NDJSON file: read it line by line (never whole in memory), check every line, stream it to S3, write its chunks as byte ranges.

A file is refused whole (nothing stored) when it is empty, has more than
BATCHLAB_MAX_FILE_LINES lines, or has bad lines (unless on_invalid=skip: they
are then recorded as failed items); a bad line is named by its line number.
The size limit (BATCHLAB_MAX_FILE_BYTES) is checked by the view before reading.
"""

import hashlib
import uuid
from datetime import datetime

from django.conf import settings

from jobs import objects
from jobs.exceptions import EmptyItemsFile, InvalidPayload, TooManyLines
from jobs.handlers.registry import job_type_get
from jobs.items import BadItem, OversizedLine, iter_lines, parse_line
from jobs.services.items.submission import (
    MAX_BAD_LINES_LISTED,
    ItemsSource,
    item_check,
    items_body,
    items_refuse,
    job_submit_items,
)
from jobs.services.jobs.submission import idempotent_seen
from jobs.tables import Job

MAX_MESSAGE = 200


def _merged(ranges: list) -> list:
    """Every two neighbouring chunk ranges as one (their lines and bytes are contiguous)."""
    merged = []
    for i in range(0, len(ranges), 2):
        pair = ranges[i:i + 2]
        first, count, offset, length = pair[0]
        if len(pair) == 2 and length + pair[1][3] <= settings.BATCHLAB_CHUNK_MAX_RANGE_BYTES:
            count, length = count + pair[1][1], length + pair[1][3]
            merged.append((first, count, offset, length))
        else:
            merged.extend(pair)
    return merged


def items_file_scan(*, type: str, stream, chunk_size: int, on_invalid: str) -> ItemsSource:
    """Read the file once: line count, chunk byte ranges, bad lines (InvalidItems, EmptyItemsFile, TooManyLines).

    Chunks are cut by `chunk_size` lines and BATCHLAB_CHUNK_MAX_RANGE_BYTES bytes.
    Memory stays bounded whatever the file: while the ranges pass twice
    BATCHLAB_MAX_CHUNKS, neighbours are merged (the chunk size doubles), and only
    the first bad lines are kept (with their count).
    """
    job_type = job_type_get(type)
    if job_type.items is None:
        raise InvalidPayload({"type": [f"Job type {type!r} does not take items."]})
    limit = settings.BATCHLAB_MAX_FILE_LINES
    max_range = settings.BATCHLAB_CHUNK_MAX_RANGE_BYTES
    invalid: dict[int, str] = {}
    bad_count = 0
    ranges = []
    size = int(chunk_size)
    offset = chunk_start = 0
    line_no = chunk_first = 0
    digest = hashlib.sha256()
    for raw in iter_lines(stream, max_line=settings.BATCHLAB_MAX_ITEM_BYTES + 2):
        line_no += 1
        digest.update(raw if isinstance(raw, bytes) else f"<{len(raw)} bytes>".encode())
        if line_no > limit:
            raise TooManyLines(f"The file has more than {limit} lines; split it into several jobs.")
        if line_no > 1 and (line_no - chunk_first >= size or offset - chunk_start + len(raw) > max_range):
            ranges.append((chunk_first, line_no - chunk_first, chunk_start, offset - chunk_start))
            chunk_first, chunk_start = line_no, offset
            if len(ranges) >= 2 * settings.BATCHLAB_MAX_CHUNKS:
                ranges, size = _merged(ranges), size * 2
        elif line_no == 1:
            chunk_first, chunk_start = 1, 0
        offset += len(raw)
        try:
            if isinstance(raw, OversizedLine):
                raise BadItem(f"The line is {len(raw)} bytes; an item may have {settings.BATCHLAB_MAX_ITEM_BYTES}.")
            item_check(job_type, parse_line(raw.rstrip(b"\r\n")))
        except Exception as exc:  # BadItem or the type's InvalidItem
            bad_count += 1
            if len(invalid) < MAX_BAD_LINES_LISTED:
                invalid[line_no] = (str(exc) or exc.__class__.__name__)[:MAX_MESSAGE]
    if line_no == 0:
        raise EmptyItemsFile("The file has no lines; give one JSON value per line.")
    ranges.append((chunk_first, line_no - chunk_first + 1, chunk_start, offset - chunk_start))
    while len(ranges) > settings.BATCHLAB_MAX_CHUNKS:
        merged = _merged(ranges)
        if len(merged) == len(ranges):
            break  # no two neighbours fit one range: the byte cut wins over the chunk count
        ranges, size = merged, size * 2
    if bad_count and on_invalid != "skip":
        raise items_refuse(invalid, total_bad=bad_count)
    return ItemsSource(total=line_no, ranges=ranges, invalid=invalid, invalid_count=bad_count, digest=digest.hexdigest(),
                       chunk_size=size)


def job_submit_file(
    *, owner: str, name: str, type: str, payload: dict, stream, chunk_size: int | None = None,
    max_failed_ratio: float | None = None, on_invalid: str = "reject", idempotency_key: str | None = None,
    run_at: datetime | None = None, priority: str | None = None, concurrency_key: str | None = None,
    webhook: dict | None = None,
) -> tuple[Job, bool]:
    """Check the file, store it in S3 (streamed, multipart when large), then submit the item job over its byte ranges.

    `stream` is a seekable binary file (Django keeps an upload over 2.5 MB in a
    temporary file on disk). Requests beyond job_submit_items': the S3 upload.
    A replay of an Idempotency-Key (the same file: its digest) uploads and writes nothing.
    """
    job_type = job_type_get(type)
    job_type.validate_options(payload)
    asked = int(chunk_size or (job_type.items.chunk_size if job_type.items else 100))
    source = items_file_scan(type=type, stream=stream, chunk_size=asked, on_invalid=on_invalid)
    if idempotency_key is not None:
        body = items_body(name=name, type=type, payload=payload, source=source, chunk_size=asked,
                          max_failed_ratio=max_failed_ratio, run_at=run_at, priority=priority, concurrency_key=concurrency_key,
                          webhook=webhook)
        seen = idempotent_seen(owner=owner, key=idempotency_key, body=body)
        if seen is not None:
            return seen, False
    _upload(source, stream=stream, key=f"items/{uuid.uuid4()}.ndjson")
    return job_submit_items(owner=owner, name=name, type=type, payload=payload, source=source, chunk_size=source.chunk_size,
                            max_failed_ratio=max_failed_ratio, idempotency_key=idempotency_key, run_at=run_at,
                            asked_chunk_size=asked, priority=priority, concurrency_key=concurrency_key, webhook=webhook)


def _upload(source: ItemsSource, *, stream, key: str) -> None:
    stream.seek(0)
    objects.object_upload(key=key, stream=stream)
    source.object_key = key


def items_file_store(*, type: str, stream, chunk_size: int | None, on_invalid: str, key: str) -> ItemsSource:
    """Scan the file (items_file_scan: refused whole, nothing stored), then stream it to S3 under `key`.

    Chunks are of `chunk_size` items (default: the type's; raised for a very long
    file). The source comes back with its object key and chunk size.
    """
    job_type = job_type_get(type)
    size = int(chunk_size or (job_type.items.chunk_size if job_type.items else 100))
    source = items_file_scan(type=type, stream=stream, chunk_size=size, on_invalid=on_invalid)
    _upload(source, stream=stream, key=key)
    return source
