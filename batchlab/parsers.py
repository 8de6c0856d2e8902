"""Request bodies: the JSON parser (413 over the body's limit, 400 if undecodable) and the drain of a body left unread."""

import re
import time

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

# The body around the payload (name, type, JSON punctuation) may add this much
# to BATCHLAB_MAX_PAYLOAD_BYTES (and to the inline items limit, for a view that
# takes items) before the body itself is refused.
ENVELOPE_BYTES = 16 * 1024

# A body the view answered without reading is read and thrown away before the
# answer goes out (see drain_unread_body), up to this much, in chunks of
# DRAIN_CHUNK_BYTES, for at most DRAIN_SECONDS.
DRAIN_MAX_BYTES = 32 * 1024 * 1024
DRAIN_CHUNK_BYTES = 64 * 1024
DRAIN_SECONDS = 30.0

# JSON may spell a lone UTF-16 surrogate ("\ud800"); Python's json accepts it,
# but such a string is not Unicode: encoding it as UTF-8 (to measure the
# payload, to render a response) raises, and the client got a 500.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class RequestBodyTooLarge(APIException):
    status_code = 413
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


def max_body_bytes() -> int:
    """The most a body without items may have: the payload limit and the envelope."""
    return settings.BATCHLAB_MAX_PAYLOAD_BYTES + ENVELOPE_BYTES


def max_items_body_bytes() -> int:
    """The most a body with inline items may have: the items limit, the payload limit (the type's options) and the envelope."""
    return settings.BATCHLAB_MAX_INLINE_ITEMS_BYTES + max_body_bytes()


def _payload_refusal(length: int) -> RequestBodyTooLarge:
    return RequestBodyTooLarge(f"The request body is {length} bytes; the payload limit is {settings.BATCHLAB_MAX_PAYLOAD_BYTES} bytes.")


def _items_refusal(length: int, upload: str) -> RequestBodyTooLarge:
    return RequestBodyTooLarge(
        f"The request body is {length} bytes; a body with inline items may have at most {max_items_body_bytes()} bytes"
        f" (the inline items limit is {settings.BATCHLAB_MAX_INLINE_ITEMS_BYTES} bytes, the payload limit"
        f" {settings.BATCHLAB_MAX_PAYLOAD_BYTES} bytes). Upload a file ({upload}) for more items."
    )


def _content_length(meta) -> int:
    try:
        return max(0, int(meta.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _lone_surrogate(value) -> str | None:
    """The first lone surrogate in any string (key or value) of a parsed document, iteratively."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            match = _LONE_SURROGATE.search(node)
            if match:
                return match.group()
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


class SafeJSONParser(JSONParser):
    """JSON bodies within their limit: a payload's (payload limit + envelope), or an item job's.

    A view that takes inline items says so with `inline_items_upload` (where more
    items go instead, e.g. "POST /jobs/files"): its bodies may be as large as the
    inline items limit on top, and one without `items` is then held to the payload's.
    """

    def limit_bytes(self, upload: str | None) -> int:
        return max_items_body_bytes() if upload else max_body_bytes()

    def too_large(self, length: int, upload: str | None) -> RequestBodyTooLarge:
        return _items_refusal(length, upload) if upload else _payload_refusal(length)

    def parse(self, stream, media_type=None, parser_context=None):
        context = parser_context or {}
        request, upload = context.get("request"), getattr(context.get("view"), "inline_items_upload", None)
        length = _content_length(request.META) if request is not None else 0
        if length > self.limit_bytes(upload):
            # Refused by its declared length, unread; the exception handler
            # drains it before answering (drain_unread_body).
            raise self.too_large(length, upload)
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except UnicodeDecodeError:
            raise ParseError("JSON parse error - the body is not valid UTF-8.") from None
        surrogate = _lone_surrogate(data)
        if surrogate is not None:
            raise ParseError(f"JSON parse error - the body contains a lone surrogate (U+{ord(surrogate):04X}), which is not valid Unicode.")
        if upload and length > max_body_bytes() and not (isinstance(data, dict) and "items" in data):
            raise _payload_refusal(length)
        return data


class WorkflowJSONParser(SafeJSONParser):
    """A workflow's definition: every step's payload in one body, up to BATCHLAB_MAX_WORKFLOW_BYTES."""

    def limit_bytes(self, upload: str | None) -> int:
        return settings.BATCHLAB_MAX_WORKFLOW_BYTES

    def too_large(self, length: int, upload: str | None) -> RequestBodyTooLarge:
        return RequestBodyTooLarge(f"The workflow is {length} bytes; the limit is {settings.BATCHLAB_MAX_WORKFLOW_BYTES} bytes.")


def drain_unread_body(request) -> int:
    """Read and discard what is left of the request body; return the bytes read.

    Why: an answer given before the body is read (a 413 by Content-Length, a
    401, a 415) leaves the client still sending. gunicorn then reads at most
    ~128 KB of the rest and closes the socket with unread data in it, which
    makes the kernel send a TCP reset: a client still sending gets "connection
    reset" or "broken pipe" instead of the answer (and many, like http.client,
    never read it). Reading the rest first lets the client finish and read the
    answer. Bounded, chunk by chunk, nothing kept: a body over DRAIN_MAX_BYTES
    is left alone (the server closes the connection after the answer), and
    the drain stops after DRAIN_SECONDS.
    """
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    meta = request.META
    if _content_length(meta) > DRAIN_MAX_BYTES:
        return 0
    if meta.get("wsgi.input_terminated"):
        # The server (gunicorn) ends the stream where the body ends, Content-Length or chunked.
        stream = meta["wsgi.input"]
    elif _content_length(meta):
        stream = request  # Django's stream stops at Content-Length
    else:
        return 0
    drained, deadline = 0, time.monotonic() + DRAIN_SECONDS
    try:
        while drained < DRAIN_MAX_BYTES and time.monotonic() < deadline:
            chunk = stream.read(DRAIN_CHUNK_BYTES)
            if not chunk:
                break
            drained += len(chunk)
    except Exception:  # noqa: BLE001 - gone client, malformed chunk: the server closes the connection anyway
        pass
    return drained
