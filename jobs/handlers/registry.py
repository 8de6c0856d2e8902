"""The job-type registry: `@job_type(...)` registers a handler with its payload schema."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rest_framework import serializers

from jobs.exceptions import InvalidPayload, UnknownJobType


class PermanentError(Exception):
    """The job cannot succeed: fail it at once, no retry."""

    code = "permanent_error"


class TransientError(Exception):
    """The job may succeed later: retry with backoff until max attempts."""

    code = "transient_error"


class JobCanceled(Exception):
    """Raised by `JobContext.check_cancel()` when a cancel was requested."""


@dataclass(frozen=True)
class JobType:
    name: str
    handler: Callable[[dict, Any], Any]
    payload_serializer: type[serializers.Serializer] | None
    example: dict = field(default_factory=dict)
    description: str = ""

    def validate(self, payload: Any) -> dict:
        """Return the cleaned payload or raise InvalidPayload listing every bad field."""
        if not isinstance(payload, dict):
            raise InvalidPayload({"payload": ["Must be a JSON object."]})
        if self.payload_serializer is None:
            return payload
        serializer = self.payload_serializer(data=payload)
        if not serializer.is_valid():
            raise InvalidPayload({f"payload.{k}": v for k, v in serializer.errors.items()})
        # Keep the caller's payload (validated), not a re-rendered one.
        return payload


_REGISTRY: dict[str, JobType] = {}


def job_type(name: str, *, payload: type[serializers.Serializer] | None = None, example: dict | None = None):
    """Register the decorated function `handler(payload, ctx) -> result` as job type `name`."""

    def decorator(func):
        if name in _REGISTRY:
            raise ValueError(f"Job type {name!r} is registered twice")
        _REGISTRY[name] = JobType(
            name=name,
            handler=func,
            payload_serializer=payload,
            example=example or {},
            description=(func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else "",
        )
        return func

    return decorator


def job_type_get(name: str) -> JobType:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownJobType(f"Unknown job type {name!r}. Known types: {known}.", extra={"known_types": sorted(_REGISTRY)}) from None


def job_types() -> list[JobType]:
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]
