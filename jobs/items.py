"""Items of an item job, pure (no I/O): the envelope that carries an idempotency key, and NDJSON lines.

An item is any JSON value. To give it an idempotency key, wrap it:
`{"item": <value>, "idempotency_key": "<key>"}` (exactly these two keys).
"""

import json

ENVELOPE_KEYS = frozenset({"item", "idempotency_key"})
MAX_KEY_LENGTH = 255
# What a submission does with items it cannot take: refuse the whole submission, or record them as failed items.
ON_INVALID = ("reject", "skip")


class BadItem(ValueError):
    """A line or an item that cannot be taken (its message says why)."""


def split_item(value) -> tuple[object, str | None]:
    """(item, idempotency key or None) of a submitted value."""
    if isinstance(value, dict) and value.keys() == ENVELOPE_KEYS:
        key = value["idempotency_key"]
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise BadItem(f"idempotency_key must be a string of 1 to {MAX_KEY_LENGTH} characters.")
        return value["item"], key
    return value, None


def parse_line(raw: bytes):
    """One NDJSON line (without its newline) as a JSON value; BadItem when it is not JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadItem("Not valid UTF-8.") from None
    if not text.strip():
        raise BadItem("Empty line.")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BadItem(f"Not valid JSON: {exc}.") from None


def lines_of(data: bytes) -> list[bytes]:
    """The lines of a byte range of an NDJSON file (a final newline ends the last one)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


class OversizedLine:
    """Stands for a line longer than the limit: only its length (with its newline) is kept, never its bytes."""

    def __init__(self, length: int):
        self.length = length

    def __len__(self) -> int:
        return self.length


def iter_lines(stream, *, block: int = 1 << 16, max_line: int | None = None):
    """The raw lines of a binary stream, each with its b"\\n" (the last may lack it); reads `block` bytes at a time.

    A line longer than `max_line` comes back as an OversizedLine: memory stays bounded
    by `max_line` + `block` whatever the file holds.
    """
    pending, skipped = b"", 0  # skipped: bytes of an oversized line already dropped
    while True:
        data = stream.read(block)
        if not data:
            break
        pending += data
        start = 0
        while True:
            end = pending.find(b"\n", start)
            if end < 0:
                break
            if skipped:
                yield OversizedLine(skipped + end + 1 - start)
                skipped = 0
            elif max_line is not None and end + 1 - start > max_line:
                yield OversizedLine(end + 1 - start)
            else:
                yield pending[start:end + 1]
            start = end + 1
        pending = pending[start:]
        if max_line is not None and len(pending) > max_line:
            skipped += len(pending)
            pending = b""
    if skipped or (max_line is not None and len(pending) > max_line):
        yield OversizedLine(skipped + len(pending))
    elif pending:
        yield pending
