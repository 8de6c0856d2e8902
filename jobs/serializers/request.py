"""Request validation: the body of POST /jobs (with run_at / delay_seconds), its Idempotency-Key, the query of GET /jobs, job ids."""

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.fields import SkipField

from jobs.exceptions import InvalidPayload, PayloadTooLarge, UnknownJobType
from jobs.flow import PRIORITIES
from jobs.handlers.fields import StrictCharField
from jobs.handlers.registry import job_type_get
from jobs.states import JobStatus

CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
MAX_NAME_LENGTH = 200
MAX_PAYLOAD_DEPTH = 32
MAX_LIMIT = 100
MAX_KEY_LENGTH = 128


def json_depth(value, depth: int = 1) -> int:
    """Nesting depth of a JSON value, iteratively (no recursion limit to trip)."""
    deepest, stack = 0, [(value, depth)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_PAYLOAD_DEPTH:
            return level
        if isinstance(node, dict):
            stack.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, level + 1) for v in node)
    return deepest


def payload_size(payload) -> int:
    return len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def is_job_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower() and len(value) == 36
    except (ValueError, AttributeError, TypeError):
        return False


class InvalidIdempotencyKey(exceptions.APIException):
    status_code = 400
    default_code = "invalid_idempotency_key"
    default_detail = "Idempotency-Key must be 1 to 255 visible ASCII characters."


def idempotency_key(headers) -> str | None:
    """The request's Idempotency-Key header (None without one); InvalidIdempotencyKey if malformed."""
    key = headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise InvalidIdempotencyKey()
    return key


@extend_schema_field({"type": "object", "additionalProperties": True})
class PayloadField(serializers.JSONField):
    """Any JSON value is parsed; `validate_payload` refuses what is not an object."""


class WebhookCallbackField(serializers.JSONField):
    """`{"url": …, "events": [...]}`: the job's own callback (a JSON string too, for a multipart form).

    Only its shape is checked here; the service checks the URL (scheme, address)
    and the event names, and that the submitter has a callback secret.
    """

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                data = json.loads(data) if data.strip() else None
            except ValueError:
                raise serializers.ValidationError("Must be a JSON object: {\"url\": …, \"events\": […]}.") from None
            if data is None:
                raise SkipField()
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            raise serializers.ValidationError("Must be an object with a \"url\" (and optionally \"events\").")
        unknown = sorted(set(data) - {"url", "events"})
        if unknown:
            raise serializers.ValidationError(f"Unknown field {unknown[0]!r}; the fields are url, events.")
        events = data.get("events")
        if events is not None and (not isinstance(events, list) or not all(isinstance(e, str) for e in events)):
            raise serializers.ValidationError("events: a list of event types.")
        return {"url": data["url"], **({"events": events} if events is not None else {})}


WEBHOOK_HELP = ("Call this URL back when the job ends (or on the events listed: job.started, job.completed, job.failed, "
                "job.canceled, job.progress), signed with your callback secret (GET /webhooks/secret).")


class JobSubmitSerializer(serializers.Serializer):
    """A job to run: a name, a type, and a payload that the type validates.

    Every bad field is listed at once (`validation_error`), unknown fields
    included; a payload over the size limit is a 413 `payload_too_large`, and an
    unknown type as the only error is `unknown_job_type` with the known types.
    """

    name = StrictCharField(max_length=MAX_NAME_LENGTH, trim_whitespace=True)
    type = StrictCharField(max_length=64, help_text="A job type from GET /job-types.")
    payload = PayloadField(
        required=False, default=dict, help_text="A JSON object whose fields depend on `type` (see GET /job-types)."
    )
    run_at = serializers.DateTimeField(
        required=False, help_text="A delayed job: when to run it (RFC 3339), within the retention period."
    )
    delay_seconds = serializers.IntegerField(
        required=False, min_value=0, help_text="A delayed job: run it this many seconds from now (instead of run_at)."
    )
    priority = serializers.ChoiceField(
        choices=[p.value for p in PRIORITIES], required=False,
        help_text="Its queue: high, normal or low (default: the type's, see GET /job-types/{type}).",
    )
    concurrency_key = StrictCharField(
        required=False, max_length=MAX_KEY_LENGTH, help_text="What the type's key_concurrency_limit and key_rate_limit"
        " count this job under (e.g. a customer id; default: the submitting user).",
    )
    webhook = WebhookCallbackField(required=False, help_text=WEBHOOK_HELP)

    def validate_name(self, value: str) -> str:
        if CONTROL_CHARS.search(value):
            raise serializers.ValidationError("Must not contain control characters.")
        return value

    def validate_payload(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        if json_depth(value) > MAX_PAYLOAD_DEPTH:
            raise serializers.ValidationError(f"Must not be nested deeper than {MAX_PAYLOAD_DEPTH} levels.")
        size, limit = payload_size(value), settings.BATCHLAB_MAX_PAYLOAD_BYTES
        if size > limit:
            raise PayloadTooLarge(f"The payload is {size} bytes; the limit is {limit} bytes.")
        return value

    def to_internal_value(self, data):
        # DRF's own loop stops at the field errors; this one goes on to unknown
        # fields, the type and the payload as that type reads it, so that one
        # answer names every bad field.
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
        values, errors = {}, {}
        for name, field in self.fields.items():
            validate = getattr(self, f"validate_{name}", None)
            try:
                value = field.run_validation(field.get_value(data))
                values[name] = validate(value) if validate else value
            except serializers.ValidationError as exc:
                errors[name] = exc.detail
            except SkipField:
                pass
        known = ", ".join(self.fields)
        errors.update({field: [f"Unknown field; the fields are {known}."] for field in data if field not in self.fields})
        if not errors.keys() & {"run_at", "delay_seconds"}:
            errors.update(run_at_errors(values))
        unknown_type = self._validate_by_type(values, errors) if "type" in values else None
        if unknown_type is not None and list(errors) == ["type"]:
            raise unknown_type
        if errors:
            raise serializers.ValidationError(errors)
        return values

    @staticmethod
    def _validate_by_type(values: dict, errors: dict) -> UnknownJobType | None:
        """Validate the payload by its job type (the only time), adding to `errors`; the UnknownJobType if any."""
        try:
            job_type = job_type_get(values["type"])
        except UnknownJobType as exc:
            errors["type"] = [exc.detail]
            return exc
        if "payload" in values:
            try:
                values["payload"] = job_type.validate(values["payload"])
            except InvalidPayload as exc:
                errors.update(exc.errors)
        return None


def run_at_errors(attrs: dict, *, now: datetime | None = None) -> dict:
    """Resolve `run_at` / `delay_seconds` of a job submission into attrs["run_at"]; return the errors by field."""
    now = now or datetime.now(timezone.utc)
    run_at, delay = attrs.get("run_at"), attrs.pop("delay_seconds", None)
    if run_at is not None and delay is not None:
        return {"run_at": ["Give run_at or delay_seconds, not both."], "delay_seconds": ["Give run_at or delay_seconds, not both."]}
    if delay is not None and delay > settings.BATCHLAB_RETENTION_DAYS * 86400:
        # Checked before the addition: a huge delay overflowed datetime (a 500, found by fuzzing POST /jobs/bulk).
        return {"delay_seconds": [f"Must be within the retention period ({settings.BATCHLAB_RETENTION_DAYS:g} days) from now."]}
    if delay is not None:
        attrs["run_at"] = run_at = now + timedelta(seconds=delay)
    if run_at is None:
        return {}
    field = "delay_seconds" if delay is not None else "run_at"
    if run_at.tzinfo is None:
        return {field: ["Must include a timezone offset (RFC 3339), e.g. 2030-01-01T09:00:00Z."]}
    if run_at < now - timedelta(seconds=5):
        return {field: ["Must not be in the past."]}
    limit = timedelta(days=settings.BATCHLAB_RETENTION_DAYS)
    if run_at > now + limit:
        return {field: [f"Must be within the retention period ({settings.BATCHLAB_RETENTION_DAYS:g} days) from now."]}
    return {}



class JobListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[s.value for s in JobStatus], required=False)
    type = serializers.CharField(max_length=64, required=False)
    owner = serializers.CharField(max_length=150, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, required=False, default=20)
    cursor = serializers.CharField(max_length=2000, required=False)
    ids = serializers.CharField(max_length=100 * 37, required=False)

    def validate_ids(self, value: str) -> list[str]:
        ids = [part.strip() for part in value.split(",") if part.strip()]
        if not ids:
            raise serializers.ValidationError("List at least one job id.")
        if len(ids) > MAX_LIMIT:
            raise serializers.ValidationError(f"At most {MAX_LIMIT} ids per request.")
        bad = [i for i in ids if not is_job_id(i)]
        if bad:
            raise serializers.ValidationError(f"Not job ids: {', '.join(b[:40] for b in bad[:5])}.")
        return ids
