"""A schedule's log: its runs and its edits, each an item next to the others of that schedule, written in one transaction with the schedule.

The schedule item itself carries no list of runs or edits: every firing
rewrites it (and DynamoDB copies it to four indexes), and a write is billed by
the size of the item, so a list of the last 50 runs made each firing cost tens
of write units. A transaction of the schedule's conditional write and a put of
one small log entry costs about 2 x (1 + 1) units, and records the run exactly
when its due time is taken.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from pynamodb.exceptions import PynamoDBConnectionError, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from jobs.services.store import is_condition_failure, logger, store_error, store_retry, utcnow
from jobs.tables.schedules import EDIT_PREFIX, RUN_PREFIX, Schedule, ScheduleLogEntry, ScheduleRun


def run_entry(schedule_id: str, *, due_at: int, outcome: str, job_id: str | None = None, missed: int = 0,
              message: str | None = None) -> ScheduleLogEntry:
    """A run: fired, skipped, held (queue_one) or manual; kept BATCHLAB_SCHEDULE_RUNS_KEPT_DAYS; sorted by when it was acted on."""
    at = utcnow()
    return ScheduleLogEntry(
        schedule_id, f"{RUN_PREFIX}{int(at.timestamp() * 1000):013d}#{uuid.uuid4().hex[:8]}", at=at, due_at=int(due_at),
        outcome=outcome, job_id=job_id, missed=missed, message=message,
        expires_at=timedelta(days=settings.BATCHLAB_SCHEDULE_RUNS_KEPT_DAYS),
    )


def edit_entry(schedule_id: str, *, actor: str, action: str, changes: dict | None = None) -> ScheduleLogEntry:
    """An edit: who, what (`{field: [old, new]}`), when; kept as long as the schedule."""
    at = utcnow()
    return ScheduleLogEntry(schedule_id, f"{EDIT_PREFIX}{at.isoformat()}#{uuid.uuid4().hex[:8]}", at=at, actor=actor,
                            action=action, changes=changes)


def last_run(entry: ScheduleLogEntry) -> ScheduleRun:
    """The copy of a run that made a job, kept on the schedule for the listings."""
    return ScheduleRun(due_at=entry.due_at, at=entry.at, outcome=entry.outcome, job_id=entry.job_id,
                       missed=entry.missed or 0, message=entry.message)


def schedule_write(schedule: Schedule, *, actions: list, condition, entries: list) -> bool:
    """The schedule's conditional UpdateItem and its log entries (and any other new items: a failed run's deliveries), in one TransactWriteItems.

    False when the condition refused it; nothing is written then. A concurrent
    transaction on the schedule (another scheduler) is no refusal: the write is
    tried again, and then its condition decides. The local `schedule` is not refreshed.
    """
    def write():
        with TransactWrite(connection=Schedule._get_connection().connection) as transaction:
            # A schedule made before the log table still carries its old lists: they go with its next write.
            transaction.update(schedule, actions=[*actions, Schedule.legacy_runs.remove(), Schedule.legacy_history.remove()],
                               condition=condition)
            for entry in entries:
                transaction.save(entry)

    try:
        store_retry(write, what=f"write of schedule {schedule.schedule_id}")
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            return False
        raise store_error(exc) from exc
    except PynamoDBConnectionError as exc:
        raise store_error(exc) from exc
    return True


def schedule_log_delete(*, schedule_id: str) -> None:
    """Delete a deleted schedule's runs and edits (BatchWriteItem); best effort."""
    try:
        with ScheduleLogEntry.batch_write() as batch:
            for entry in ScheduleLogEntry.query(schedule_id, attributes_to_get=["ScheduleId", "SK"]):
                batch.delete(entry)
    except PynamoDBException as exc:  # the runs expire anyway; edits would stay
        logger.warning("the log of deleted schedule %s was not deleted: %s", schedule_id, exc)
