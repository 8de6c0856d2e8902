"""JSON parser that turns every undecodable body into a 400, deep nesting and lone surrogates included."""

import re

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# JSON may spell a lone UTF-16 surrogate ("\ud800"); Python's json accepts it,
# but such a string is not Unicode: encoding it as UTF-8 (to measure the
# payload, to render a response) raises, and the client got a 500.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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
