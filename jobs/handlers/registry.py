"""The job-type registry: `@job_type(...)` registers a handler with its payload schema; `@item_type(...)` an item handler.

An item type works item by item: its handler gets one item and a context (the
job's payload, cleaned, is `ctx.payload`: the options shared by every item) and
returns that item's result; PermanentError or TransientError fail that item
alone. Items are checked one by one at submission (`check`: InvalidItem).
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from rest_framework import serializers

from jobs.exceptions import InvalidPayload, UnknownJobType
from jobs.flow import Limits


class PermanentError(Exception):
    """The job cannot succeed: fail it at once, no retry."""

    code = "permanent_error"


class TransientError(Exception):
    """The job may succeed later: retry with backoff until max attempts."""

    code = "transient_error"


class JobCanceled(Exception):
    """Raised by `JobContext.check_cancel()` when a cancel was requested."""


class InvalidItem(Exception):
    """An item an item type cannot take (raised by its `check` at submission)."""


DEFAULT_CHUNK_SIZE = 100


@dataclass(frozen=True)
class ItemSpec:
    """How a type runs item by item: `handler(item, ctx) -> result`, `check(item) -> item` (raises InvalidItem)."""

    handler: Callable[[Any, Any], Any]
    check: Callable[[Any], Any] | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    # Options (the job's payload) an item job of this type may carry.
    options_serializer: type[serializers.Serializer] | None = None
    example_items: tuple = ()

    def check_item(self, item: Any) -> Any:
        return self.check(item) if self.check is not None else item


@dataclass(frozen=True)
class JobType:
    name: str
    handler: Callable[[dict, Any], Any] | None
    payload_serializer: type[serializers.Serializer] | None
    example: dict = field(default_factory=dict)
    description: str = ""
    items: ItemSpec | None = None
    # Flow-control defaults (priority, pause, limits) until staff edit the type's settings.
    limits: Limits = field(default_factory=Limits)

    def validate_options(self, payload: Any) -> dict:
        """The payload of an item job of this type: its options for every item (InvalidPayload)."""
        if self.items is None:
            raise InvalidPayload({"items": [f"Job type {self.name!r} does not take items."]})
        if not isinstance(payload, dict):
            raise InvalidPayload({"payload": ["Must be a JSON object."]})
        if self.items.options_serializer is None:
            return payload
        serializer = self.items.options_serializer(data=payload)
        if not serializer.is_valid():
            raise InvalidPayload({f"payload.{k}": v for k, v in serializer.errors.items()})
        return payload

    def validate_for(self, payload: Any, *, with_items: bool) -> dict:
        """The payload of a job of this type: the options of every item when it comes with items, else a job's payload.

        A type may run both ways (checksum, wordcount); one that does not refuses the
        other with an `items` error (InvalidPayload).
        """
        return self.validate_options(payload) if with_items else self.validate(payload)

    def validate(self, payload: Any) -> dict:
        """Return the cleaned payload or raise InvalidPayload listing every bad field."""
        if not isinstance(payload, dict):
            raise InvalidPayload({"payload": ["Must be a JSON object."]})
        if self.handler is None:
            raise InvalidPayload({"items": [f"Job type {self.name!r} runs item by item: give `items` (or a file)."]})
        if self.payload_serializer is None:
            return payload
        serializer = self.payload_serializer(data=payload)
        if not serializer.is_valid():
            raise InvalidPayload({f"payload.{k}": v for k, v in serializer.errors.items()})
        # Keep the caller's payload (validated), not a re-rendered one.
        return payload


_REGISTRY: dict[str, JobType] = {}


def job_type(name: str, *, payload: type[serializers.Serializer] | None = None, example: dict | None = None, **limits):
    """Register the decorated function `handler(payload, ctx) -> result` as job type `name`.

    Keywords of jobs.flow.Limits declare the type's flow-control defaults, e.g.
    `rate_limit="5/s"`, `concurrency_limit=2`, `priority="high"` (ValueError if bad).
    """
    defaults = Limits(**limits)

    def decorator(func):
        if name in _REGISTRY:
            raise ValueError(f"Job type {name!r} is registered twice")
        _REGISTRY[name] = JobType(
            name=name,
            handler=func,
            payload_serializer=payload,
            example=example or {},
            description=(func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else "",
            limits=defaults,
        )
        return func

    return decorator


def item_type(
    name: str,
    *,
    check: Callable[[Any], Any] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    options: type[serializers.Serializer] | None = None,
    example_items: list | None = None,
    description: str = "",
    **limits,
):
    """Register the decorated `handler(item, ctx) -> result` as the item handler of job type `name`.

    The type may also have a payload handler (`@job_type`, registered first): it
    then runs either way, item by item when a submission carries items. Flow-control
    keywords (as for `job_type`) declare the type's defaults; a chunk takes a slot
    and a token as a job does.
    """
    defaults = Limits(**limits) if limits else None

    def decorator(func):
        spec = ItemSpec(handler=func, check=check, chunk_size=chunk_size, options_serializer=options,
                        example_items=tuple(example_items or ()))
        existing = _REGISTRY.get(name)
        if existing is not None and existing.items is not None:
            raise ValueError(f"Item handler of {name!r} is registered twice")
        if existing is None:
            doc = description or ((func.__doc__ or "").strip().splitlines() or [""])[0]
            _REGISTRY[name] = JobType(name=name, handler=None, payload_serializer=None, description=doc, items=spec,
                                      limits=defaults or Limits())
        else:
            _REGISTRY[name] = replace(existing, items=spec, limits=defaults or existing.limits)
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
