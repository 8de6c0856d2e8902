"""What a chunk holds, read wherever it lives: its items (inline, or a byte range of the job's file in S3) and its outcomes (inline, or in S3)."""

from jobs import objects
from jobs.items import BadItem, lines_of, parse_line


def chunk_items(chunk, job) -> list:
    """The chunk's submitted values, in order; a line that is not JSON comes back as a BadItem (on_invalid=skip)."""
    if chunk.items is not None:
        return list(chunk.items)
    offset, length = (int(x) for x in chunk.items_range)
    values = []
    for raw in lines_of(objects.object_read_range(key=job.items_object, offset=offset, length=length)):
        try:
            values.append(parse_line(raw))
        except BadItem as exc:
            values.append(exc)
    return values


def chunk_outcomes(chunk) -> list:
    """One entry per item: {"r": result} | {"e": error} | {"s": reason} | None (not run yet)."""
    if chunk.outcomes_object:
        return objects.json_get(key=chunk.outcomes_object)
    return list(chunk.outcomes or [])
