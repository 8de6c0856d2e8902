"""What a chunk holds, read wherever it lives: its items (inline, or a byte range of the job's file in S3) and its outcomes (inline, or in S3)."""

from django.conf import settings

from jobs import objects
from jobs.items import BadItem, lines_of, parse_line


def chunk_items(chunk, job) -> list:
    """The chunk's submitted values, in order; a line that is not JSON comes back as a BadItem (on_invalid=skip)."""
    if chunk.items is not None:
        return list(chunk.items)
    offset, length = (int(x) for x in chunk.items_range)
    values = []
    for raw in lines_of(objects.object_read_range(key=job.items_object, offset=offset, length=length)):
        if len(raw) > settings.BATCHLAB_MAX_ITEM_BYTES:
            values.append(BadItem(f"The line is {len(raw)} bytes; an item may have {settings.BATCHLAB_MAX_ITEM_BYTES}."))
            continue
        try:
            values.append(parse_line(raw))
        except BadItem as exc:
            values.append(exc)
    return values


def chunk_outcomes(chunk) -> list:
    """One entry per item: {"r": result} | {"e": error} | {"s": reason} | None (not run yet).

    Every write sets one of Outcomes and OutcomesObject and removes the other; a
    chunk written before that rule may hold both, and then the inline ones are
    the newer (the object was never cleared), so they win.
    """
    if chunk.outcomes is not None:
        return list(chunk.outcomes)
    if chunk.outcomes_object:
        return objects.json_get(key=chunk.outcomes_object)
    return []
