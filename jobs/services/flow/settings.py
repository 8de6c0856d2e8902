"""Staff's edits of a job type's flow-control settings: edit, pause, resume; each edit in the type's history, written with it."""

import uuid

from pynamodb.exceptions import PynamoDBConnectionError, TransactWriteError
from pynamodb.transactions import TransactWrite

from jobs.exceptions import InvalidPayload, JobTypeConflict
from jobs.flow import Limits, limits_errors
from jobs.selectors.flow import SETTINGS, TypeView, _registered, limits_of, stored_setting, type_view
from jobs.services.store import is_condition_failure, logger, store_error, utcnow
from jobs.tables import EDITS_PREFIX, TypeSettings, TypeSettingsEdit

ATTEMPTS = 3  # a concurrent edit of the same type: read again and apply on top of it


def _changes(before: Limits, after: Limits) -> dict:
    old, new = before.as_dict(), after.as_dict()
    return {name: [old[name], new[name]] for name in Limits.FIELDS if old[name] != new[name]}


def type_settings_update(*, type: str, actor: str, changes: dict, action: str = "edit") -> TypeView:
    """Apply `changes` (any of Limits.FIELDS) to a type's settings; returns the type as stored now.

    One TransactWriteItems: the settings item, conditional on the version read (a
    concurrent edit is read again and applied on top, up to 3 times, then
    JobTypeConflict), and one edit entry {field: [old, new]}. Nothing is written
    when nothing changes. Every worker applies the new settings within
    BATCHLAB_TYPE_SETTINGS_SECONDS; a resume, or a limit raised, wakes the jobs
    waiting for it (jobs.services.flow.waiting).
    """
    job_type = _registered(type)
    unknown = sorted(set(changes) - set(Limits.FIELDS))
    errors = {name: ["Unknown field."] for name in unknown}
    errors.update({name: [message] for name, message in limits_errors(changes).items()})
    if errors:
        raise InvalidPayload(errors, "The job type's settings are not valid.")
    for _ in range(ATTEMPTS):
        try:
            current = stored_setting(type)
            before = limits_of(current, job_type.limits)
            after = before.changed(**changes)
            diff = _changes(before, after)
            if not diff:
                return type_view(type=type)
            if _write(type=type, current=current, after=after, actor=actor, action=action, diff=diff):
                break
        except PynamoDBConnectionError as exc:
            raise store_error(exc) from exc
    else:
        raise JobTypeConflict(f"The settings of {type} kept changing meanwhile; try again.")
    SETTINGS.clear()  # this process applies them at once; the others within their cache interval
    logger.info("job type %s: %s by %s: %s", type, action, actor, diff)
    from jobs.services.flow.waiting import waiters_wake_after_edit  # a circle otherwise: waiting reads the settings

    waiters_wake_after_edit(type=type, before=before, after=after)
    return type_view(type=type)


def _write(*, type: str, current: TypeSettings | None, after: Limits, actor: str, action: str, diff: dict) -> bool:
    now = utcnow()
    item = TypeSettings(type=type, **after.as_dict(), updated_at=now, updated_by=actor,
                        version=int(current.version) + 1 if current else 1)
    condition = TypeSettings.version == current.version if current else TypeSettings.type.does_not_exist()
    edit = TypeSettingsEdit(f"{EDITS_PREFIX}{type}", f"{now.isoformat()}#{uuid.uuid4().hex[:8]}", at=now, actor=actor,
                            action=action, changes=diff)
    try:
        with TransactWrite(connection=TypeSettings._get_connection().connection) as transaction:
            transaction.save(item, condition=condition)
            transaction.save(edit)
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            return False
        raise store_error(exc) from exc
    return True


def type_pause(*, type: str, actor: str) -> TypeView:
    """Pause a type: running jobs finish, nothing new of it starts (on every worker within the settings interval)."""
    return type_settings_update(type=type, actor=actor, changes={"paused": True}, action="pause")


def type_resume(*, type: str, actor: str) -> TypeView:
    """Resume a paused type: its waiting jobs are woken and start as limits allow."""
    return type_settings_update(type=type, actor=actor, changes={"paused": False}, action="resume")
