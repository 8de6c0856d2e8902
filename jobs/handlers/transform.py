"""`transform`: reshapes JSON records, one per item, by a declared list of operations validated up front.

Operations (applied in order): `pick` (keep only `fields`), `rename` (`from` -> `to`),
`upper` / `lower` (a string `field`), `parse_number` (a string `field` to int or float).
An item that an operation cannot apply to (a missing field, a field that is not a
string, text that is not a number) fails on its own, permanently.
"""

import re

from rest_framework import serializers

from jobs.handlers.registry import InvalidItem, PermanentError, item_type

OPS = ("pick", "rename", "upper", "lower", "parse_number")
NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
FIELD = serializers.CharField(max_length=200)


class OperationSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=OPS)
    fields = serializers.ListField(child=serializers.CharField(max_length=200), required=False, allow_empty=False, max_length=100)
    field = serializers.CharField(max_length=200, required=False)
    to = serializers.CharField(max_length=200, required=False)

    def to_internal_value(self, data):
        # `from` is a Python keyword: read it by hand.
        value = super().to_internal_value(data)
        if isinstance(data, dict) and "from" in data:
            if not isinstance(data["from"], str) or not data["from"]:
                raise serializers.ValidationError({"from": ["Must be a non-empty string."]})
            value["from"] = data["from"]
        return value

    def validate(self, attrs):
        op = attrs["op"]
        needs = {"pick": ("fields",), "rename": ("from", "to"), "upper": ("field",), "lower": ("field",), "parse_number": ("field",)}[op]
        missing = [name for name in needs if name not in attrs]
        if missing:
            raise serializers.ValidationError({name: [f"Required by {op}."] for name in missing})
        return attrs


class TransformOptions(serializers.Serializer):
    ops = serializers.ListField(child=OperationSerializer(), allow_empty=False, max_length=50)


def _record(item) -> dict:
    if not isinstance(item, dict):
        raise InvalidItem("Must be a JSON object.")
    return item


def _string_field(record: dict, name: str, op: str) -> str:
    if name not in record:
        raise PermanentError(f"{op}: no field {name!r}.")
    value = record[name]
    if not isinstance(value, str):
        raise PermanentError(f"{op}: field {name!r} is not a string.")
    return value


def _apply(record: dict, op: dict) -> dict:
    kind = op["op"]
    if kind == "pick":
        return {k: record[k] for k in op["fields"] if k in record}
    if kind == "rename":
        if op["from"] not in record:
            raise PermanentError(f"rename: no field {op['from']!r}.")
        out = {k: v for k, v in record.items() if k != op["from"]}
        out[op["to"]] = record[op["from"]]
        return out
    text = _string_field(record, op["field"], kind)
    if kind == "upper":
        return {**record, op["field"]: text.upper()}
    if kind == "lower":
        return {**record, op["field"]: text.lower()}
    if not NUMBER.match(text):
        raise PermanentError(f"parse_number: field {op['field']!r} is not a number: {text[:50]!r}.")
    number = float(text)
    return {**record, op["field"]: int(number) if number.is_integer() and not re.search(r"[.eE]", text) else number}


@item_type(
    "transform",
    check=_record,
    options=TransformOptions,
    example_items=[{"name": "ada", "age": "36", "city": "london"}],
)
def transform(item: dict, ctx) -> dict:
    """Reshape one JSON record by the job's `ops` (pick, rename, upper, lower, parse_number)."""
    record = dict(item)
    for op in ctx.payload["ops"]:
        record = _apply(record, op)
    return record
