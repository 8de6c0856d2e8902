"""Item jobs and bulk submission: request validation, and the JSON of progress, chunks and items."""

import json

from django.conf import settings
from rest_framework import serializers

from jobs.exceptions import FileTooLarge, InvalidPayload, PayloadTooLarge, UnknownJobType
from jobs.handlers.fields import StrictCharField
from jobs.handlers.registry import job_type_get
from jobs.items import ON_INVALID
from jobs.documents import iso, item_progress  # noqa: F401  (item_progress: re-exported for the HTTP layer)
from jobs.flow import PRIORITIES
from jobs.serializers.request import MAX_KEY_LENGTH, WEBHOOK_HELP, JobSubmitSerializer, WebhookCallbackField, payload_size, run_at_errors

MAX_CHUNK_SIZE = 1000
MAX_BULK_JOBS = 100


def inline_items_size_check(data, *, upload: str = "POST /jobs/files") -> None:
    """PayloadTooLarge when a body's inline `items` are over BATCHLAB_MAX_INLINE_ITEMS_BYTES."""
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        size = payload_size(data["items"])
        if size > settings.BATCHLAB_MAX_INLINE_ITEMS_BYTES:
            raise PayloadTooLarge(f"The items are {size} bytes; the inline limit is {settings.BATCHLAB_MAX_INLINE_ITEMS_BYTES} "
                                  f"bytes. Upload a file ({upload}) for more.")


def upload_length_check(request) -> None:
    """FileTooLarge before reading a multipart body whose Content-Length is past BATCHLAB_MAX_FILE_BYTES (and a form's margin)."""
    limit = settings.BATCHLAB_MAX_FILE_BYTES
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > limit + 64 * 1024:
        raise FileTooLarge(f"The upload is {length} bytes; a file may have at most {limit} bytes.")


def upload_size_check(upload) -> None:
    limit = settings.BATCHLAB_MAX_FILE_BYTES
    if upload.size > limit:
        raise FileTooLarge(f"The file is {upload.size} bytes; a file may have at most {limit} bytes.")


class ItemsField(serializers.ListField):
    """The inline items: a JSON array of at most BATCHLAB_MAX_INLINE_ITEMS values (each checked by the job type later)."""

    child = serializers.JSONField()

    def __init__(self, **kwargs):
        super().__init__(allow_empty=False, max_length=settings.BATCHLAB_MAX_INLINE_ITEMS, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        if len(data) > settings.BATCHLAB_MAX_INLINE_ITEMS:
            raise serializers.ValidationError(
                f"At most {settings.BATCHLAB_MAX_INLINE_ITEMS} inline items; upload a file (POST /jobs/files) for more.")
        if not data:
            raise serializers.ValidationError("Give at least one item.")
        return list(data)


class ItemJobSubmitSerializer(JobSubmitSerializer):
    """An item job: name, type, the type's options as `payload`, the items, and how to run them.

    Like a job submission, every bad or unknown field is listed at once.
    """

    items = ItemsField()
    chunk_size = serializers.IntegerField(min_value=1, max_value=MAX_CHUNK_SIZE, required=False)
    max_failed_ratio = serializers.FloatField(min_value=0, max_value=1, required=False)
    on_invalid = serializers.ChoiceField(choices=ON_INVALID, required=False, default="reject")
    # run_at / delay_seconds (from JobSubmitSerializer): a delayed item job, like a delayed job.

    @staticmethod
    def _validate_by_type(values: dict, errors: dict) -> UnknownJobType | None:
        """The type must take items; the payload holds its options (validated here, the only time)."""
        try:
            job_type = job_type_get(values["type"])
        except UnknownJobType as exc:
            errors["type"] = [exc.detail]
            return exc
        if job_type.items is None:
            errors["items"] = [f"Job type {values['type']!r} does not take items; send a payload."]
        elif "payload" in values:
            try:
                values["payload"] = job_type.validate_options(values["payload"])
            except InvalidPayload as exc:
                errors.update(exc.errors)
        return None


def form_fields(data, *, drop_blank: bool = False) -> dict:
    """A multipart form's fields as a dict, `payload` read from its JSON text (blank: {}).

    `drop_blank`: an empty input other than the name counts as not given (a form sends every input).
    """
    if hasattr(data, "getlist"):
        data = {k: data.get(k) for k in data}
    if drop_blank:
        data = {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip() and k != "name")}
    if isinstance(data.get("payload"), str):
        try:
            data = {**data, "payload": json.loads(data["payload"]) if data["payload"].strip() else {}}
        except ValueError:
            raise serializers.ValidationError({"payload": ["Must be a JSON object."]}) from None
    return data


class FileSubmitSerializer(ItemJobSubmitSerializer):
    """An item job from an NDJSON file (multipart form): the fields of an item job, `file` instead of `items`."""

    items = None
    file = serializers.FileField(allow_empty_file=True)

    def to_internal_value(self, data):
        return super().to_internal_value(form_fields(data))


class BulkJobSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=64)
    payload = serializers.JSONField(required=False, default=dict)
    idempotency_key = serializers.RegexField(r"^[\x21-\x7e]{1,255}$", required=False)
    run_at = serializers.DateTimeField(required=False, help_text="A delayed job: when to run it (RFC 3339).")
    delay_seconds = serializers.IntegerField(required=False, min_value=0, help_text="A delayed job: in this many seconds.")
    priority = serializers.ChoiceField(choices=[p.value for p in PRIORITIES], required=False,
                                       help_text="high, normal or low (default: the type's).")
    concurrency_key = StrictCharField(required=False, max_length=MAX_KEY_LENGTH,
                                      help_text="What the type's key limits count it under (default: the submitting user).")
    webhook = WebhookCallbackField(required=False, help_text=WEBHOOK_HELP)

    def validate(self, attrs):
        errors = run_at_errors(attrs)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class ItemProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    chunks_done = serializers.IntegerField()
    chunks_total = serializers.IntegerField()
    chunk_size = serializers.IntegerField()
    max_failed_ratio = serializers.FloatField()
    items_per_second = serializers.FloatField(allow_null=True)
    eta_seconds = serializers.FloatField(allow_null=True, help_text="Estimated seconds left (0 once finished).")
    from_file = serializers.BooleanField()


class ChunkSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    status = serializers.CharField()
    first_line = serializers.IntegerField()
    last_line = serializers.IntegerField()
    items = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    attempts = serializers.IntegerField()
    worker = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class ChunkPageSerializer(serializers.Serializer):
    results = ChunkSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    next_cursor = serializers.CharField(allow_null=True)


class ItemRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    chunk = serializers.IntegerField()
    status = serializers.CharField()
    input = serializers.JSONField(allow_null=True)
    result = serializers.JSONField(required=False)
    error = serializers.JSONField(required=False)
    reason = serializers.CharField(required=False)


class ItemPageSerializer(serializers.Serializer):
    results = ItemRowSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    next_cursor = serializers.CharField(allow_null=True)


class BulkResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.UUIDField()
    url = serializers.CharField()
    status = serializers.CharField()
    created = serializers.BooleanField()


class BulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)


class BulkRequestSerializer(serializers.Serializer):
    jobs = BulkJobSerializer(many=True)


def chunk_row(chunk) -> dict:
    count = int(chunk.item_count)
    return {
        "number": int(chunk.number),
        "status": chunk.chunk_status,
        "first_line": int(chunk.first_line),
        "last_line": int(chunk.first_line) + count - 1,
        "items": count,
        "succeeded": int(chunk.succeeded or 0),
        "failed": int(chunk.failed or 0),
        "skipped": int(chunk.skipped or 0),
        "attempts": int(chunk.attempts or 0),
        "worker": chunk.lease_owner,
        "started_at": iso(chunk.started_at),
        "finished_at": iso(chunk.finished_at),
    }
