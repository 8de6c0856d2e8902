"""Schedules: request validation of /schedules (every bad field listed); the responses are in schedule_responses."""

from collections.abc import Mapping

from django.conf import settings
from rest_framework import serializers

from jobs import timing
from jobs.exceptions import InvalidPayload, InvalidWorkflow, UnknownJobType
from jobs.flow import PRIORITIES
from jobs.handlers.registry import job_type_get
from jobs.handlers.fields import StrictCharField
from jobs.items import ON_INVALID
from jobs.serializers.items import MAX_CHUNK_SIZE, ItemsField, form_fields
from jobs.serializers.request import CONTROL_CHARS, MAX_NAME_LENGTH
from jobs.serializers.workflow_request import workflow_definition_read

from jobs.serializers.schedule_responses import (  # noqa: F401 (the names callers import from here)
    OVERLAP_POLICIES,
    ScheduleItemsSerializer,
    ScheduleListSerializer,
    ScheduleSerializer,
    schedule_detail,
    schedule_summary,
)


class ScheduleWriteSerializer(serializers.Serializer):
    """Create (all of name, type and interval_seconds or cron) or edit (partial=True) a schedule."""

    name = StrictCharField(max_length=MAX_NAME_LENGTH, trim_whitespace=True)
    type = StrictCharField(max_length=64)
    payload = serializers.JSONField(required=False, default=dict)
    interval_seconds = serializers.IntegerField(required=False, allow_null=True)
    cron = StrictCharField(required=False, allow_null=True, max_length=200)
    timezone = StrictCharField(required=False, default="UTC", max_length=64)
    overlap = serializers.ChoiceField(choices=OVERLAP_POLICIES, required=False, default="skip")
    paused = serializers.BooleanField(required=False, default=False)
    priority = serializers.ChoiceField(choices=[p.value for p in PRIORITIES], required=False, allow_null=True,
                                       help_text="The priority of every run's job (default: the type's, at each firing).")
    items = ItemsField(required=False, allow_null=True, help_text=(
        "For a type that runs item by item: the items of every run (checked now, stored in S3). In an edit they replace "
        "the schedule's items; null drops them. For more, upload a file: POST /schedules/files, PUT /schedules/{id}/items."))
    chunk_size = serializers.IntegerField(min_value=1, max_value=MAX_CHUNK_SIZE, required=False,
                                          help_text="Items per chunk (with items; default: the type's).")
    max_failed_ratio = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True,
                                              help_text="A run FAILs when more of its items failed (with items; default 1).")
    on_invalid = serializers.ChoiceField(choices=ON_INVALID, required=False,
                                         help_text="reject (default): one bad item refuses them all; skip: it fails in every run.")

    def validate_name(self, value: str) -> str:
        if CONTROL_CHARS.search(value):
            raise serializers.ValidationError("Must not contain control characters.")
        return value

    def validate_type(self, value: str) -> str:
        try:
            job_type_get(value)
        except UnknownJobType as exc:
            raise serializers.ValidationError(exc.detail) from None
        return value

    def validate_payload(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value

    def validate_interval_seconds(self, value):
        low, high = settings.BATCHLAB_SCHEDULE_MIN_INTERVAL_SECONDS, settings.BATCHLAB_SCHEDULE_MAX_INTERVAL_SECONDS
        if value is not None and not low <= value <= high:
            raise serializers.ValidationError(f"Must be from {low} to {high} seconds.")
        return value

    def validate_cron(self, value):
        if value is not None and not timing.cron_valid(value):
            raise serializers.ValidationError("Not a valid cron expression (five fields: minute hour day month weekday).")
        return value

    def validate_timezone(self, value):
        if not timing.timezone_valid(value):
            raise serializers.ValidationError(f"Unknown timezone {value[:64]!r} (use an IANA name such as Europe/Paris).")
        return value

    def _fields_read(self, data, *, unknown: str = "Unknown field") -> tuple[dict | None, dict]:
        """(values, errors) of the declared fields, and every unknown field named (DRF stops at the field errors)."""
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
        try:
            values, errors = serializers.Serializer.to_internal_value(self, data), {}
        except serializers.ValidationError as exc:
            values, errors = None, dict(exc.detail)
        known = ", ".join(self.fields)
        errors.update({f: [f"{unknown}; the fields are {known}."] for f in data if f not in self.fields})
        return values, errors

    def to_internal_value(self, data):
        # Go on to unknown fields and to the payload as its job type reads it, so that one answer names every bad field.
        values, errors = self._fields_read(data)
        current = self.context.get("current")
        payload_read = "type" in data or "payload" in data or "items" in data or "file" in data or not self.partial
        if not errors.keys() & {"type", "payload"} and payload_read:
            try:
                payload = job_type_get(data.get("type") or current.type).validate_for(
                    data.get("payload", current.payload if current else {}), with_items=self._with_items(data))
            except InvalidPayload as exc:
                errors.update(exc.errors)
                if "items" in exc.errors and current is not None and current.items_object and "items" not in data:
                    errors["items"] = [f"{exc.errors['items'][0]} Send items: null to drop the schedule's items."]
            else:
                if values is not None:
                    values["payload"] = payload
        if errors:
            raise serializers.ValidationError(errors)
        return values

    def validate(self, attrs):
        errors = {}
        given = [k for k in ("interval_seconds", "cron") if attrs.get(k) is not None]
        if len(given) == 2:
            errors.update({k: ["Give interval_seconds or cron, not both."] for k in given})
        elif not self.partial and not given:
            errors.update({k: ["Give interval_seconds or cron."] for k in ("interval_seconds", "cron")})
        errors.update(self._items_errors(attrs))
        if errors:
            raise serializers.ValidationError(errors)
        if self.partial:  # an edit changes only what was sent, not the defaults
            attrs = {k: v for k, v in attrs.items() if k in self.initial_data}
        return attrs

    def _with_items(self, data) -> bool:
        """Whether the schedule has items after this request: new ones (or a file), else (an edit sending none) its own."""
        current = self.context.get("current")
        if "items" in data or "file" in data or current is None:
            return data.get("items") is not None or data.get("file") is not None
        return bool(current.items_object)

    def _items_errors(self, attrs) -> dict:
        """A type that runs only item by item needs items; one without an item handler takes none; options come with items."""
        current = self.context.get("current")
        given = self.initial_data
        try:
            job_type = job_type_get(attrs.get("type") or current.type)
        except (UnknownJobType, AttributeError):
            return {}
        new_items = given.get("items") is not None or attrs.get("file") is not None
        has_items = self._with_items({**({"file": attrs["file"]} if "file" in attrs else {}), **given})
        how = "give items (a JSON array), or upload a file (POST /schedules/files; PUT /schedules/{id}/items)"
        if job_type.handler is None and not has_items:
            return {"items": [f"Job type {job_type.name!r} runs item by item: {how}."]}
        if job_type.items is None and has_items:
            drop = " (send items: null to drop the schedule's items)" if current is not None and "items" not in given else ""
            return {"items": [f"Job type {job_type.name!r} does not take items; send a payload{drop}."]}
        errors = {}
        if current is not None and current.items_object and has_items and not new_items \
                and attrs.get("type", current.type) != current.type:
            errors["items"] = [f"The schedule's items were checked for {current.type!r}: give them again for "
                               f"{job_type.name!r} (or items: null)."]
        for name in ("chunk_size", "on_invalid"):
            if name in given and not new_items:
                errors[name] = ["Give it with the items: they are split into chunks and checked when stored."]
        if given.get("max_failed_ratio") is not None and not has_items:
            errors["max_failed_ratio"] = ["Only for a schedule with items."]
        return errors


class ScheduleFileSerializer(ScheduleWriteSerializer):
    """A schedule whose items come from an NDJSON file (multipart form): the fields of a schedule, `file` instead of `items`."""

    items = None
    file = serializers.FileField(allow_empty_file=True, help_text="NDJSON: one item per line.")

    def to_internal_value(self, data):
        return super().to_internal_value(form_fields(data, drop_blank=True))


class ScheduleItemsFileSerializer(serializers.Serializer):
    """PUT /schedules/{id}/items: new items for every later run, from an NDJSON file."""

    file = serializers.FileField(allow_empty_file=True, help_text="NDJSON: one item per line.")
    chunk_size = serializers.IntegerField(min_value=1, max_value=MAX_CHUNK_SIZE, required=False)
    on_invalid = serializers.ChoiceField(choices=ON_INVALID, required=False)


class WorkflowScheduleWriteSerializer(ScheduleWriteSerializer):
    """Create or edit a schedule that fires a workflow: `workflow` (the body of POST /workflows) instead of a type.

    The definition is checked as POST /workflows checks it (its errors under
    `workflow.<field>`); the body is held to the payload limit (a bigger workflow: POST /workflows).
    """

    type = None
    payload = None
    priority = None
    items = None
    chunk_size = None
    max_failed_ratio = None
    on_invalid = None
    workflow = serializers.JSONField(help_text="A workflow definition, as the body of POST /workflows.")

    def to_internal_value(self, data):
        values, errors = self._fields_read(data, unknown="Unknown field; this schedule fires a workflow")
        if "workflow" in data and "workflow" not in errors:
            try:
                definition = workflow_definition_read(data["workflow"], owner=self.context.get("owner", ""))
            except InvalidWorkflow as exc:
                errors.update({f"workflow.{field}": messages for field, messages in exc.errors.items()})
            else:
                if values is not None:
                    values["workflow"] = definition
        if errors:
            raise serializers.ValidationError(errors)
        return values

    def _items_errors(self, attrs) -> dict:
        return {}
