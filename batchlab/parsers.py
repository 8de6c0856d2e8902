"""The JSON parser: a body over the size limit is a 413, unread; any undecodable body is a 400."""

import re

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

# The body around the payload (name, type, JSON punctuation) may add this much
# to BATCHLAB_MAX_PAYLOAD_BYTES before the body itself is refused unread.
ENVELOPE_BYTES = 16 * 1024

# JSON may spell a lone UTF-16 surrogate ("\ud800"); Python's json accepts it,
# but such a string is not Unicode: encoding it as UTF-8 (to measure the
# payload, to render a response) raises, and the client got a 500.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class RequestBodyTooLarge(APIException):
    status_code = 413
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


def max_body_bytes() -> int:
    return settings.BATCHLAB_MAX_PAYLOAD_BYTES + ENVELOPE_BYTES


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
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        length, limit = _content_length(request.META) if request is not None else 0, max_body_bytes()
        if length > limit:
            # Refused by its declared length, unread.
            raise RequestBodyTooLarge(
                f"The request body is {length} bytes; the payload limit is {settings.BATCHLAB_MAX_PAYLOAD_BYTES} bytes."
            )
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except UnicodeDecodeError:
            raise ParseError("JSON parse error - the body is not valid UTF-8.") from None
        surrogate = _lone_surrogate(data)
        if surrogate is not None:
            raise ParseError(f"JSON parse error - the body contains a lone surrogate (U+{ord(surrogate):04X}), which is not valid Unicode.")
        return data
