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


def iter_lines(stream, *, block: int = 1 << 16):
    """The raw lines of a binary stream, each with its b"\n" (the last may lack it); reads `block` bytes at a time."""
    pending = b""
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
            yield pending[start:end + 1]
            start = end + 1
        pending = pending[start:]
    if pending:
        yield pending
