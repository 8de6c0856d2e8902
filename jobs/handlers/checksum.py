"""`checksum`: SHA-256 of each string: a payload job (`items` in the payload, progress per item) or an item job (one string per item)."""

import hashlib

from rest_framework import serializers

from jobs.handlers.fields import StrictCharField
from jobs.handlers.registry import InvalidItem, item_type, job_type


class ChecksumPayload(serializers.Serializer):
    # Strings only: a number is refused, not hashed as its text.
    items = serializers.ListField(
        child=StrictCharField(allow_blank=True, trim_whitespace=False), allow_empty=False, max_length=10_000
    )


@job_type("checksum", payload=ChecksumPayload, example={"items": ["alpha", "beta", "gamma"]})
def checksum(payload: dict, ctx) -> dict:
    """SHA-256 (hex) of each item, in order."""
    items = payload["items"]
    digests = []
    for index, item in enumerate(items, start=1):
        ctx.check_cancel()
        digests.append(hashlib.sha256(item.encode("utf-8")).hexdigest())
        ctx.progress(index, len(items))
    return {"algorithm": "sha256", "digests": digests}


def _string_item(item) -> str:
    if not isinstance(item, str):
        raise InvalidItem("Must be a string.")
    return item


@item_type("checksum", check=_string_item, example_items=["alpha", "beta"])
def checksum_item(item: str, ctx) -> dict:
    """SHA-256 (hex) of one string."""
    return {"sha256": hashlib.sha256(item.encode("utf-8")).hexdigest()}
