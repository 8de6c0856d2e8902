"""Reads of an item job: its chunks (paged), its items by outcome (paged, with line, input, error) and every result in input order.

Every read is a Query of the job's own partition (SK begins_with CHUNK#), in
chunk order; item inputs and large outcomes come from S3 when they live there.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from django.core import signing
from pynamodb.exceptions import PynamoDBConnectionError

from jobs.exceptions import InvalidCursor, NotAnItemJob, StoreUnavailable
from jobs.selectors.jobs import job_get
from jobs.chunk_content import chunk_items, chunk_outcomes
from jobs.tables import CHUNK_SK_PREFIX, Chunk, Job, chunk_sk

_SALT = "batchlab.jobs.items.cursor"
ITEM_STATUSES = ("succeeded", "failed", "skipped", "pending")


@dataclass
class Page:
    items: list
    next_cursor: str | None


def item_job_get(*, job_id: str, owner: str | None) -> Job:
    job = job_get(job_id=job_id, owner=owner)
    if job.chunks_total is None:
        raise NotAnItemJob(f"Job {job_id} has no items.")
    return job


def _cursor_load(cursor: str | None, kind: str) -> dict:
    if not cursor:
        return {}
    try:
        data = signing.loads(cursor, salt=_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidCursor() from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise InvalidCursor("The cursor belongs to another listing.")
    return data


def _cursor_dump(kind: str, **data) -> str:
    return signing.dumps({"kind": kind, **data}, salt=_SALT)


def _chunks_from(job_id: str, number: int, *, page_size: int | None = None):
    """The job's chunks from chunk `number` on, in order (a Query of its partition)."""
    condition = Chunk.sk.between(chunk_sk(number), f"{CHUNK_SK_PREFIX}~")
    try:
        yield from Chunk.query(job_id, condition, page_size=page_size)
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc


def job_chunks(*, job: Job, limit: int = 100, cursor: str | None = None) -> Page:
    """A page of the job's chunks (state, lines, counts, attempts, worker)."""
    start = int(_cursor_load(cursor, "chunks").get("n", 1))
    rows = []
    for chunk in _chunks_from(job.job_id, start, page_size=limit + 1):
        if len(rows) == limit:
            return Page(rows, _cursor_dump("chunks", n=int(chunk.number)))
        rows.append(chunk)
    return Page(rows, None)


def _status_of(outcome) -> str:
    if not outcome:
        return "pending"
    return "succeeded" if "r" in outcome else "failed" if "e" in outcome else "skipped"


def _item_rows(job: Job, chunk: Chunk, *, status: str | None, from_index: int = 0, with_input: bool = True) -> Iterator[dict]:
    outcomes = chunk_outcomes(chunk) or [None] * int(chunk.item_count)
    values = None
    for index in range(from_index, int(chunk.item_count)):
        outcome = outcomes[index] if index < len(outcomes) else None
        item_status = _status_of(outcome)
        if status and item_status != status:
            continue
        row = {"line": int(chunk.first_line) + index, "chunk": int(chunk.number), "status": item_status}
        if with_input:
            if values is None:
                values = chunk_items(chunk, job)  # only read (S3 for files) when a row is wanted
            row["input"] = values[index] if not isinstance(values[index], Exception) else None
        if outcome and "e" in outcome:
            row["error"] = outcome["e"]
        elif outcome and "s" in outcome:
            row["reason"] = outcome["s"]
        elif outcome:
            row["result"] = outcome["r"]
        yield index, row


def job_items(*, job: Job, status: str | None = None, limit: int = 100, cursor: str | None = None) -> Page:
    """A page of the job's items with one outcome (or all), in input order: line, input, error or result."""
    data = _cursor_load(cursor, "items")
    if cursor and data.get("s") != status:
        raise InvalidCursor("The cursor belongs to a listing with another status.")
    number, from_index = int(data.get("n", 1)), int(data.get("i", 0))
    rows = []
    for chunk in _chunks_from(job.job_id, number, page_size=20):
        start = from_index if int(chunk.number) == number else 0
        if status == "failed" and not chunk.failed:
            continue
        for index, row in _item_rows(job, chunk, status=status, from_index=start):
            if len(rows) == limit:
                return Page(rows, _cursor_dump("items", n=int(chunk.number), i=index, s=status))
            rows.append(row)
    return Page(rows, None)


def job_results(*, job: Job) -> Iterator[dict]:
    """Every item's outcome in input order, one chunk at a time (never the whole job in memory)."""
    for chunk in _chunks_from(job.job_id, 1, page_size=10):
        for _, row in _item_rows(job, chunk, status=None, with_input=False):
            row.pop("chunk", None)
            yield row
