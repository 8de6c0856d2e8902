"""DRF serializers: request validation and the JSON shape of a job."""

import json
import re
import uuid

from rest_framework import serializers

from jobs.handlers.registry import job_types
from jobs.states import JobStatus

CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME_LENGTH = 200
MAX_PAYLOAD_DEPTH = 32
MAX_LIMIT = 100


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


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into strings."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class JobSubmitSerializer(serializers.Serializer):
    name = StrictCharField(max_length=MAX_NAME_LENGTH, trim_whitespace=True)
    type = StrictCharField(max_length=64)
    payload = serializers.JSONField(required=False, default=dict)

    def validate_name(self, value: str) -> str:
        if CONTROL_CHARS.search(value):
            raise serializers.ValidationError("Must not contain control characters.")
        return value

    def validate_payload(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        if json_depth(value) > MAX_PAYLOAD_DEPTH:
            raise serializers.ValidationError(f"Must not be nested deeper than {MAX_PAYLOAD_DEPTH} levels.")
        return value


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


def is_job_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower() and len(value) == 36
    except (ValueError, AttributeError, TypeError):
        return False


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def job_summary(job) -> dict:
    """The fields of a job in a listing (no payload, result or timeline)."""
    duration = None
    if job.started_at and job.finished_at:
        duration = round((job.finished_at - job.started_at).total_seconds(), 3)
    return {
        "id": job.job_id,
        "url": f"/jobs/{job.job_id}",
        "name": job.name,
        "type": job.type,
        "status": job.status,
        "owner": job.owner,
        "attempts": int(job.attempts or 0),
        "max_attempts": int(job.max_attempts or 0),
        "progress": {"done": int(job.progress_done or 0), "total": int(job.progress_total or 0)},
        "cancel_requested": bool(job.cancel_requested),
        "error": dict(job.error.as_dict()) if job.error else None,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "duration_seconds": duration,
        "version": int(job.version or 0),
    }


def job_detail(job) -> dict:
    """Every field of a job, with its payload, result and timeline."""
    data = job_summary(job)
    data.update(
        payload=job.payload,
        result=job.result,
        expires_at=_iso(job.expires_at),
        timeline=[
            {
                "at": _iso(e.at),
                "event": e.event,
                "status": e.status,
                "message": e.message,
                "worker": e.worker,
            }
            for e in (job.timeline or [])
        ],
    )
    return data


def job_type_catalogue() -> list[dict]:
    return [{"name": t.name, "description": t.description, "example": t.example} for t in job_types()]
