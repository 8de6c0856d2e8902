"""The schedule form of the pages read into what the API validates: its fields, items typed as NDJSON lines, or a file.

The form is the API's body in form fields (multipart, for the file). It is
validated by the API's own serializers (every bad field at once), with the same
size limits; items typed in the box are parsed here, one JSON value a line, a bad
line named by its number. An edit whose items box is left empty keeps the items.
"""

import json

from jobs.serializers.items import inline_items_size_check, upload_size_check
from jobs.exceptions import EmptyItemsFile, FileTooLarge, JobError, PayloadTooLarge, TooManyLines, UnknownJobType
from jobs.handlers import job_types
from jobs.handlers.registry import job_type_get
from jobs.serializers.schedules import ScheduleFileSerializer, ScheduleWriteSerializer

FORM_FIELDS = ("name", "type", "payload", "interval_seconds", "cron", "timezone", "overlap", "chunk_size", "max_failed_ratio",
               "on_invalid")
ITEM_OPTIONS = ("chunk_size", "max_failed_ratio", "on_invalid")
NUMBERS = {"interval_seconds": (int, "Must be a whole number of seconds."), "chunk_size": (int, "Must be a whole number."),
           "max_failed_ratio": (float, "Must be a number from 0 to 1.")}
MAX_LINE_ERRORS = 20
# Exceptions about the items as a whole: shown next to the items box.
ITEMS_PROBLEMS = (EmptyItemsFile, TooManyLines, FileTooLarge, PayloadTooLarge)


def type_choices() -> list[dict]:
    """The job types for the form's select: which run item by item, with their example items as NDJSON."""
    return [{"name": t.name, "items": t.items is not None,
             "example_items": "\n".join(json.dumps(v) for v in t.items.example_items) if t.items else "",
             "chunk_size": t.items.chunk_size if t.items else None} for t in job_types()]


def items_summary(items: dict | None) -> str:
    """"25 items · chunks of 10" (and the lines kept as failed with on_invalid=skip); "" for a payload schedule."""
    if not items:
        return ""
    invalid = f" · {items['invalid']} invalid" if items.get("invalid") else ""
    return f"{items['total']} item{'' if items['total'] == 1 else 's'} · chunks of {items['chunk_size']}{invalid}"


def items_parse(text: str) -> tuple[list, list[str]]:
    """NDJSON typed in a box: one JSON value a line (blank lines skipped); the values and the bad lines' messages."""
    values, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(json.loads(line))
        except ValueError as exc:
            errors.append(f"line {number}: not JSON ({exc.msg}).")
    if len(errors) > MAX_LINE_ERRORS:
        errors = errors[:MAX_LINE_ERRORS] + [f"… and {len(errors) - MAX_LINE_ERRORS} more bad lines."]
    return values, errors


def _fields(post) -> tuple[dict, dict]:
    """The form's text fields as the API's JSON body (blank ones left out); payload and numbers parsed."""
    data, errors = {}, {}
    for name in FORM_FIELDS:
        value = (post.get(name) or "").strip()
        if not value:
            continue
        if name == "payload":
            try:
                value = json.loads(value)
            except ValueError as exc:
                errors["payload"] = [f"Not JSON: {exc}"]
                continue
        elif name in NUMBERS:
            kind, message = NUMBERS[name]
            try:
                value = kind(value)
            except ValueError:
                errors[name] = [message]
                continue
        data[name] = value
    return data, errors


def _takes_items(type_name: str | None) -> bool | None:
    try:
        return job_type_get(type_name).items is not None if type_name else None
    except UnknownJobType:
        return None  # the serializer names the type


def schedule_form_read(post, files, *, current=None) -> tuple[dict, dict]:
    """(what to pass to schedule_create / schedule_update, {}) or ({}, errors by field) for a create or an edit (current).

    Items: the box's lines (`items`), or the uploaded file (`items_file`), for an
    item type only. An edit without new items keeps the current ones; an edit to
    a type that takes none drops them (`items: None`), as the API's PATCH does.
    """
    data, errors = _fields(post)
    takes_items = _takes_items(data.get("type") or (current.type if current is not None else None))
    upload = files.get("file")
    upload = upload if upload is not None and (upload.name or upload.size) else None
    text = (post.get("items") or "").strip()
    if not takes_items:
        for name in ITEM_OPTIONS:  # the hidden items box's inputs belong to an item type
            data.pop(name, None)
        upload = None
        if takes_items is False and current is not None and current.items_object:
            data["items"] = None
    elif upload is not None and text:
        errors["items"] = ["Type the items or choose a file, not both."]
    elif text:
        values, bad = items_parse(text)
        if bad:
            errors["items"] = bad
        else:
            data["items"] = values
    try:
        if upload is not None:
            upload_size_check(upload)
        inline_items_size_check(data, upload="choose a file")
    except (FileTooLarge, PayloadTooLarge) as exc:
        errors["items"] = [exc.detail]
    form = ScheduleFileSerializer if upload is not None else ScheduleWriteSerializer
    serializer = form(data={**data, "file": upload} if upload is not None else data, partial=current is not None,
                      context={"current": current})
    valid = serializer.is_valid()
    if not valid or errors:
        return {}, {**{k: [str(m) for m in v] for k, v in (serializer.errors if not valid else {}).items()}, **errors}
    changes = dict(serializer.validated_data)
    if upload is not None:
        changes["items_file"] = changes.pop("file")
    return changes, {}


def service_errors(exc: JobError) -> dict:
    """A service's refusal as errors by field: bad items by line next to the items box, the rest above the form."""
    if getattr(exc, "errors", None):
        return {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in exc.errors.items()}
    if isinstance(exc, ITEMS_PROBLEMS):
        return {"items": [exc.detail]}
    return {"non_field_errors": [exc.detail]}
