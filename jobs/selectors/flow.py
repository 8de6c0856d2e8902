"""Reads of flow control: each job type's effective settings (cached per process for the claim and submission), its edits, its limiter's state."""

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from pynamodb.exceptions import PynamoDBException

from jobs.exceptions import JobTypeNotFound, StoreUnavailable, UnknownJobType
from jobs.flow import Limits
from jobs.handlers.registry import JobType, job_type_get, job_types
from jobs.flow import WaitReason
from jobs.states import JobStatus
from jobs.tables import CHUNK_SK_PREFIX, EDITS_PREFIX, SETTINGS_PK, Job, Limiter, TypeSettings, TypeSettingsEdit
from jobs.tables.flow import LIMITER_SK

logger = logging.getLogger("jobs.selectors")

HISTORY_SHOWN = 50


@dataclass(frozen=True)
class TypeView:
    """A job type with its effective flow-control settings (staff's, else the declared defaults)."""

    job_type: JobType
    limits: Limits
    customized: bool = False
    version: int = 0
    updated_at: datetime | None = None
    updated_by: str | None = None
    running: int | None = None  # leases on the type's limiter (only while it has a concurrency limit)
    history: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.job_type.name


def limits_of(item: TypeSettings | None, defaults: Limits) -> Limits:
    """The effective settings of a type: its stored item's, else its declared defaults."""
    if item is None:
        return defaults
    try:
        return Limits(
            paused=bool(item.paused), priority=item.priority or "normal",
            concurrency_limit=int(item.concurrency_limit) if item.concurrency_limit is not None else None,
            rate_limit=item.rate_limit or None,
            key_concurrency_limit=int(item.key_concurrency_limit) if item.key_concurrency_limit is not None else None,
            key_rate_limit=item.key_rate_limit or None,
        )
    except ValueError as exc:  # written by hand around the API: keep the defaults, say so
        logger.warning("job type %s: stored settings are not valid (%s); using its declared defaults", item.type, exc)
        return defaults


def _registered(type: str) -> JobType:
    try:
        return job_type_get(type)
    except UnknownJobType as exc:
        raise JobTypeNotFound(f"No job type {type[:64]!r}.", extra={"known_types": exc.extra.get("known_types", [])}) from None


def stored_settings() -> dict[str, TypeSettings]:
    """Every type's stored settings: one consistent Query of the settings partition."""
    try:
        return {item.type: item for item in TypeSettings.query(SETTINGS_PK, consistent_read=True)}
    except PynamoDBException as exc:
        raise StoreUnavailable() from exc


class _SettingsCache:
    """The stored settings of every type, read at most every BATCHLAB_TYPE_SETTINGS_SECONDS by this process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._items: dict[str, TypeSettings] | None = None

    def items(self) -> dict[str, TypeSettings]:
        with self._lock:
            if time.monotonic() - self._read_at < settings.BATCHLAB_TYPE_SETTINGS_SECONDS and self._items is not None:
                return self._items
            try:
                self._items = stored_settings()
            except StoreUnavailable:
                # Keep what was read last (or the declared defaults) rather than fail the
                # claim: a store that cannot be read cannot be claimed from either.
                logger.warning("job type settings could not be read; using those read %.0f s ago",
                               time.monotonic() - self._read_at)
                return self._items or {}
            self._read_at = time.monotonic()
            return self._items

    def clear(self) -> None:
        with self._lock:
            self._read_at = float("-inf")


SETTINGS = _SettingsCache()


def type_limits(*, type: str) -> Limits:
    """A type's effective settings as this process knows them (at most BATCHLAB_TYPE_SETTINGS_SECONDS old).

    The claim and submission read them here: no request per job, one Query of every
    type's settings per interval per process. An unknown type has no limits.
    """
    try:
        defaults = job_type_get(type).limits
    except UnknownJobType:
        return Limits()
    return limits_of(SETTINGS.items().get(type), defaults)


def _history(type: str) -> list[dict]:
    edits = TypeSettingsEdit.query(f"{EDITS_PREFIX}{type}", scan_index_forward=False, limit=HISTORY_SHOWN)
    return [{"at": e.at, "actor": e.actor, "action": e.action, "changes": e.changes or {}} for e in edits]


def _running(limits: Limits, type: str) -> int | None:
    if limits.concurrency_limit is None:
        return None
    try:
        limiter = Limiter.get(f"type#{type}", LIMITER_SK, consistent_read=True, attributes_to_get=["Leases"])
    except Limiter.DoesNotExist:
        return 0
    return len(limiter.leases or ())


def stored_setting(type: str) -> TypeSettings | None:
    """A type's stored settings item, read consistently (None: it has only its declared defaults)."""
    try:
        return TypeSettings.get(SETTINGS_PK, type, consistent_read=True)
    except TypeSettings.DoesNotExist:
        return None


def type_view(*, type: str, history: bool = True) -> TypeView:
    """One type with its settings read now (consistently), what runs under its limit, and its last edits."""
    job_type = _registered(type)
    try:
        item = stored_setting(type)
        limits = limits_of(item, job_type.limits)
        return TypeView(
            job_type=job_type, limits=limits, customized=item is not None,
            version=int(item.version) if item else 0, updated_at=item.updated_at if item else None,
            updated_by=item.updated_by if item else None, running=_running(limits, type),
            history=_history(type) if history else [],
        )
    except PynamoDBException as exc:
        raise StoreUnavailable() from exc


def type_views() -> list[TypeView]:
    """Every registered type with its effective settings (one Query)."""
    stored = stored_settings()
    out = []
    for job_type in job_types():
        item = stored.get(job_type.name)
        out.append(TypeView(job_type=job_type, limits=limits_of(item, job_type.limits), customized=item is not None,
                            version=int(item.version) if item else 0, updated_at=item.updated_at if item else None,
                            updated_by=item.updated_by if item else None))
    return out


def flow_unit_counts() -> dict:
    """Jobs running and jobs held back, by type (and why): {"running": {type: n}, "waiting": {(type, reason): n}}.

    Running: the PROCESSING jobs of the status index (as many as the workers' slots,
    an item job counting once). Waiting: the sparse WaitingForCreatedAt index, one
    Query per reason, reading only the units that wait: QUEUED jobs (a job canceled
    while it waited may keep its WaitingFor: only QUEUED ones count) and PENDING
    chunks (their claim removes it), each counted under its job's type.
    """
    running: dict[str, int] = {}
    waiting: dict[tuple[str, str], int] = {}
    try:
        for job in Job.status_index.query(JobStatus.PROCESSING.value, attributes_to_get=["Type"]):
            running[job.type] = running.get(job.type, 0) + 1
        for reason in WaitReason:
            for unit in Job.waiting_index.query(str(reason), attributes_to_get=["Type", "Status", "SK"]):
                chunk = unit.sk.startswith(CHUNK_SK_PREFIX)
                if (chunk or unit.status == JobStatus.QUEUED) and unit.type:
                    waiting[(unit.type, str(reason))] = waiting.get((unit.type, str(reason)), 0) + 1
    except PynamoDBException as exc:
        raise StoreUnavailable() from exc
    return {"running": running, "waiting": waiting}
