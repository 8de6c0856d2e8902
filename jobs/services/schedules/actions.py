"""Recurring schedules, by users and staff: create, edit, pause, resume, delete, run now (each edit in the history)."""

import time
import uuid

from pynamodb.exceptions import DeleteError, PynamoDBConnectionError, TransactWriteError
from pynamodb.transactions import TransactWrite

from jobs import timing
from jobs.exceptions import ScheduleNotFound, ScheduleStateConflict
from jobs.handlers.registry import job_type_get
from jobs.services.store import is_condition_failure, logger, store_error, utcnow
from jobs.services.schedules.items import (
    StoredItems, items_stream, schedule_items_delete, schedule_items_replace, schedule_items_store,
)
from jobs.services.schedules.log import edit_entry, last_run, run_entry, schedule_log_delete, schedule_write
from jobs.services.schedules.scheduler import previous_run_running, schedule_job_create
from jobs.services.schedules.workflows import WORKFLOW_TYPE, schedule_workflow_delete, schedule_workflow_store
from jobs.tables import Job, Workflow
from jobs.tables.schedules import ACTIVE_SHARD, Schedule, ScheduleLogEntry

EDITABLE = ("name", "type", "payload", "interval_seconds", "cron", "timezone", "overlap", "max_failed_ratio", "priority")
TIMING_FIELDS = ("interval_seconds", "cron", "timezone")
ITEMS_FIELDS = ("items_object", "items_total", "items_invalid", "chunk_size", "max_failed_ratio", "on_invalid")


def _timing(schedule: Schedule) -> timing.Timing:
    return timing.Timing(interval_seconds=schedule.interval_seconds, cron=schedule.cron, timezone=schedule.timezone)


def _edit(schedule: Schedule, actor: str, action: str, changes: dict | None = None) -> ScheduleLogEntry:
    return edit_entry(schedule.schedule_id, actor=actor, action=action, changes=changes)


def _exists(schedule_id: str) -> bool | None:
    """Whether the schedule is stored (None: DynamoDB did not say)."""
    try:
        Schedule.get(schedule_id, consistent_read=True, attributes_to_get=["ScheduleId"])
    except Schedule.DoesNotExist:
        return False
    except PynamoDBConnectionError:
        return None
    return True


def schedule_get_visible(*, schedule_id: str, owner: str | None) -> Schedule:
    """The schedule, read consistently, if `owner` may see it (None: staff); else ScheduleNotFound."""
    try:
        schedule = Schedule.get(schedule_id, consistent_read=True)
    except Schedule.DoesNotExist:
        raise ScheduleNotFound(f"No schedule {schedule_id}.") from None
    except PynamoDBConnectionError as exc:
        raise store_error(exc) from exc
    if owner is not None and schedule.owner != owner:
        raise ScheduleNotFound(f"No schedule {schedule_id}.")
    return schedule


def _items_fields(stored: StoredItems | None, *, max_failed_ratio: float | None, on_invalid: str) -> dict:
    if stored is None:
        return dict.fromkeys(ITEMS_FIELDS)
    return {"items_object": stored.items_object, "items_total": stored.items_total, "items_invalid": stored.items_invalid,
            "chunk_size": stored.chunk_size, "max_failed_ratio": max_failed_ratio, "on_invalid": on_invalid}


def schedule_create(
    *, owner: str, name: str, type: str = "", payload: dict | None = None, interval_seconds: int | None = None,
    cron: str | None = None,
    timezone: str = "UTC", overlap: str = "skip", paused: bool = False, items: list | None = None, items_file=None,
    chunk_size: int | None = None, max_failed_ratio: float | None = None, on_invalid: str = "reject",
    priority: str | None = None, workflow: dict | None = None,
) -> Schedule:
    """Store a new schedule; its first due time is one interval (or the next cron time) from now.

    `workflow` (a definition as jobs.serializers' workflow_definition_read validated
    it, instead of a type and payload): every run is that workflow, its definition
    stored in S3 first (jobs.services.schedules.workflows).

    The caller validated the timing (interval bounds, cron, timezone); the payload
    is validated here by its job type. One PutItem. A type that runs item by item
    takes `items` (inline values) or `items_file` (a seekable NDJSON file): every
    item is checked, then they are stored in S3 (jobs.services.schedules.items)
    and every run is an item job over them.
    """
    schedule_id = str(uuid.uuid4())
    fires = {}
    if workflow is not None:
        type, payload, priority = WORKFLOW_TYPE, {}, None
        fires = schedule_workflow_store(schedule_id=schedule_id, definition=workflow)
    else:
        payload = job_type_get(type).validate_for(payload or {}, with_items=items is not None or items_file is not None)
    stored = None
    if items is not None or items_file is not None:
        stream = items_file if items_file is not None else items_stream(items)
        stored = schedule_items_store(schedule_id=schedule_id, type=type, stream=stream, chunk_size=chunk_size,
                                      on_invalid=on_invalid)
    now = utcnow()
    schedule = Schedule(
        schedule_id=schedule_id, name=name, owner=owner, type=type, payload=payload,
        interval_seconds=interval_seconds if not cron else None, cron=cron or None, timezone=timezone or "UTC",
        overlap=overlap, paused=paused, active_shard=None if paused else ACTIVE_SHARD,
        created_at=now, updated_at=now, priority=priority,
        **_items_fields(stored, max_failed_ratio=max_failed_ratio, on_invalid=on_invalid), **fires,
    )
    schedule.next_run_at = None if paused else timing.next_after(_timing(schedule), after=now.timestamp())
    try:
        with TransactWrite(connection=Schedule._get_connection().connection) as transaction:
            transaction.save(schedule, condition=Schedule.schedule_id.does_not_exist())
            transaction.save(_edit(schedule, owner, "created"))
    except (TransactWriteError, PynamoDBConnectionError) as exc:
        # The id is new: if it exists now, this very write applied and its answer was lost.
        exists = _exists(schedule.schedule_id)
        if exists is not True:
            if exists is False:  # not written: its items are no one's (unknown: they stay, an orphan at worst)
                schedule_items_delete(items_object=stored.items_object if stored else None)
                schedule_workflow_delete(workflow_object=fires.get("workflow_object"))
            raise store_error(exc) from exc
    logger.info("schedule %s created by %s: %s", schedule.schedule_id, owner, name)
    return schedule


def _update(schedule: Schedule, actions: list, *, edit: ScheduleLogEntry, entries: tuple = ()) -> Schedule:
    """One conditional write on the version that was read, with its log entries (ScheduleStateConflict if it moved)."""
    written = schedule_write(
        schedule, actions=[*actions, Schedule.updated_at.set(utcnow()), Schedule.version.add(1)],
        condition=Schedule.version == schedule.version, entries=[edit, *entries],
    )
    if not written:
        raise ScheduleStateConflict(f"Schedule {schedule.schedule_id} changed meanwhile; try again.")
    schedule.version = int(schedule.version) + 1
    return schedule


class RunStillGoing(Exception):
    """Run now refused by the overlap policy: not a moved version, so never tried again."""


EDIT_ATTEMPTS = 5  # a scheduler's tick moves the version at every run: an edit reads again rather than answer 409


def _on_fresh_read(schedule_id: str, owner: str | None, edit, schedule: Schedule | None = None):
    """`edit(schedule)` on a fresh read until its conditional write lands (EDIT_ATTEMPTS at most; then 409)."""
    for _ in range(EDIT_ATTEMPTS - 1):
        try:
            return edit(schedule if schedule is not None else schedule_get_visible(schedule_id=schedule_id, owner=owner))
        except ScheduleStateConflict:
            schedule = None
    return edit(schedule if schedule is not None else schedule_get_visible(schedule_id=schedule_id, owner=owner))


def schedule_update(*, schedule_id: str, owner: str | None, actor: str, changes: dict) -> Schedule:
    """Edit fields (already validated); a timing change moves the next due time, counted from now.

    Takes effect at the schedulers' next tick: they read the schedule every time.
    """
    schedule = schedule_get_visible(schedule_id=schedule_id, owner=owner)
    if changes.get("workflow") is not None and schedule.workflow_object:
        return _workflow_replace(schedule, actor=actor, definition=changes.pop("workflow"), changes=changes)
    replaced, stored = schedule_items_replace(schedule, changes)  # stored once, whatever the attempts
    changes = {k: v for k, v in changes.items() if k in EDITABLE}
    try:
        return _on_fresh_read(schedule_id, owner, lambda read: _fields_write(read, actor, dict(changes), replaced, stored),
                              schedule)
    except (ScheduleStateConflict, ScheduleNotFound):
        # Refused, or deleted meanwhile: nothing was written, the new items are no one's. (After
        # any other error the write may have applied: the items stay, an orphan at worst.)
        if stored is not None:
            schedule_items_delete(items_object=stored.items_object)
        raise


def _fields_write(schedule: Schedule, actor: str, changes: dict, replaced: dict, stored: StoredItems | None) -> Schedule:
    """The edit's one conditional write on the schedule as read (ScheduleStateConflict if it moved meanwhile)."""
    if "cron" in changes and changes["cron"]:
        changes["interval_seconds"] = None
    elif changes.get("interval_seconds"):
        changes["cron"] = None
    if "payload" in changes or "type" in changes or stored is not None:
        with_items = bool(stored.items_object) if stored is not None else bool(schedule.items_object)
        changes["payload"] = job_type_get(changes.get("type", schedule.type)).validate_for(
            changes.get("payload", schedule.payload), with_items=with_items)
    diff = {k: [getattr(schedule, k), v] for k, v in changes.items() if getattr(schedule, k) != v}
    if stored is not None:  # new items, or none (items: null)
        diff["items"] = [f"{int(schedule.items_total)} items" if schedule.items_object else None,
                         f"{stored.items_total} items" if stored.items_object else None]
        changes.update(_items_fields(stored if stored.items_object else None, **replaced))
    if not diff:
        return schedule
    actions = [getattr(Schedule, k).set(v) if v is not None else getattr(Schedule, k).remove() for k, v in changes.items()
               if k in diff or k in ITEMS_FIELDS]
    old_items = schedule.items_object
    for key, value in changes.items():
        setattr(schedule, key, value)
    if any(k in diff for k in TIMING_FIELDS) and not schedule.paused:
        schedule.next_run_at = timing.next_after(_timing(schedule), after=time.time())
        actions.append(Schedule.next_run_at.set(schedule.next_run_at))
    schedule = _update(schedule, actions, edit=_edit(schedule, actor, "edited", diff))
    logger.info("schedule %s edited by %s: %s", schedule.schedule_id, actor, sorted(diff))
    if stored is not None and old_items != schedule.pending_items:
        # Runs already created have their own copies; a run claimed but not created yet copies the old ones.
        schedule_items_delete(items_object=old_items)
    return schedule


def _workflow_replace(schedule: Schedule, *, actor: str, definition: dict, changes: dict) -> Schedule:
    """An edit that gives a workflow schedule a new definition (stored first; the old one deleted once it is written;
    a run claimed but not created yet takes the new one). Its other changes are written after it."""
    fires = schedule_workflow_store(schedule_id=schedule.schedule_id, definition=definition)  # stored once
    actions = [getattr(Schedule, k).set(v) for k, v in fires.items()]
    replaced = []

    def write(read: Schedule) -> Schedule:
        diff = {"workflow": [f"{read.workflow_name} ({int(read.workflow_steps or 0)} steps)",
                             f"{fires['workflow_name']} ({fires['workflow_steps']} steps)"]}
        replaced[:] = [read.workflow_object]
        return _update(read, actions, edit=_edit(read, actor, "edited", diff))

    try:
        schedule = _on_fresh_read(schedule.schedule_id, None, write, schedule)
    except (ScheduleStateConflict, ScheduleNotFound):
        schedule_workflow_delete(workflow_object=fires["workflow_object"])
        raise
    schedule_workflow_delete(workflow_object=replaced[0])
    rest = {k: v for k, v in changes.items() if k in EDITABLE}
    if rest:
        schedule = schedule_update(schedule_id=schedule.schedule_id, owner=None, actor=actor, changes=rest)
    return schedule


def schedule_pause(*, schedule_id: str, owner: str | None, actor: str) -> Schedule:
    """Stop firing: the schedule leaves the schedulers' due index. Idempotent."""

    def pause(schedule: Schedule) -> Schedule:
        if schedule.paused:
            return schedule
        schedule.paused, schedule.active_shard = True, None
        return _update(schedule, [Schedule.paused.set(True), Schedule.active_shard.remove()], edit=_edit(schedule, actor, "paused"))

    return _on_fresh_read(schedule_id, owner, pause)


def schedule_resume(*, schedule_id: str, owner: str | None, actor: str) -> Schedule:
    """Fire again; the next due time is computed from now (runs missed while paused are not made up)."""

    def resume(schedule: Schedule) -> Schedule:
        if not schedule.paused:
            return schedule
        schedule.paused, schedule.active_shard = False, ACTIVE_SHARD
        schedule.next_run_at = timing.next_after(_timing(schedule), after=time.time())
        actions = [Schedule.paused.set(False), Schedule.active_shard.set(ACTIVE_SHARD), Schedule.next_run_at.set(schedule.next_run_at)]
        return _update(schedule, actions, edit=_edit(schedule, actor, "resumed"))

    return _on_fresh_read(schedule_id, owner, resume)


def schedule_delete(*, schedule_id: str, owner: str | None, actor: str) -> None:
    """Delete the schedule (its jobs stay until their retention ends)."""
    schedule = schedule_get_visible(schedule_id=schedule_id, owner=owner)
    try:
        schedule.delete(condition=Schedule.schedule_id.exists(), add_version_condition=False)
    except DeleteError as exc:
        if is_condition_failure(exc):
            return
        raise store_error(exc) from exc
    schedule_items_delete(items_object=schedule.items_object)
    schedule_workflow_delete(workflow_object=schedule.workflow_object)
    if schedule.pending_items and schedule.pending_items != schedule.items_object:
        schedule_items_delete(items_object=schedule.pending_items)
    schedule_log_delete(schedule_id=schedule_id)
    logger.info("schedule %s deleted by %s", schedule_id, actor)


def schedule_run_now(*, schedule_id: str, owner: str | None, actor: str) -> Job | Workflow:
    """Create and publish a job of the schedule now (a workflow schedule: its workflow); its due times are unchanged.

    Under the `skip` and `queue_one` policies a run still going refuses it (ScheduleStateConflict).
    """

    def claim(schedule: Schedule) -> tuple[Schedule, str, int]:
        if schedule.overlap != "allow" and previous_run_running(schedule):
            raise RunStillGoing(
                f"The previous run of schedule {schedule_id} ({schedule.last_job_id}) is still going "
                f"and its overlap policy is {schedule.overlap}."
            )
        at = utcnow()
        job_id = timing.manual_job_id(schedule_id=schedule_id, at=at)
        run = run_entry(schedule_id, due_at=int(at.timestamp()), outcome="manual", job_id=job_id, message=f"Run now by {actor}.")
        _update(schedule, [Schedule.last_run.set(last_run(run)), Schedule.last_job_id.set(job_id), Schedule.fired_count.add(1)],
                edit=_edit(schedule, actor, "run_now", {"job_id": job_id}), entries=(run,))
        return schedule, job_id, int(at.timestamp())

    try:
        schedule, job_id, due_at = _on_fresh_read(schedule_id, owner, claim)
    except RunStillGoing as exc:
        raise ScheduleStateConflict(str(exc)) from None
    return schedule_job_create(schedule=schedule, job_id=job_id, due_at=due_at, message=f"Run now by {actor}.")
