"""The scheduler's writes: fire due schedules exactly once across any number of schedulers, release due jobs.

A due time is claimed by one conditional UpdateItem on the schedule's NextRunAt
(only one scheduler's write applies); the claim leaves a pending mark, then the
job is created under an id derived from (schedule, due time), then the mark is
cleared. A scheduler that dies in between leaves the mark: after
BATCHLAB_SCHEDULE_PENDING_GRACE_SECONDS any scheduler creates that job, and the
derived id with a does-not-exist condition makes a second job impossible.
"""

import os
import time
from dataclasses import dataclass, field

from django.conf import settings
from pynamodb.exceptions import GetError, PutError, PynamoDBConnectionError, QueryError, UpdateError

from jobs import timing
from jobs.exceptions import QueueUnavailable
from jobs.services import publishing, webhooks
from jobs.services.store import is_condition_failure, logger, store_error, utcnow
from jobs.services.schedules.delayed import jobs_release_due
from jobs.services.schedules.items import schedule_items_job_create
from jobs.services.schedules.log import last_run, run_entry, schedule_write
from jobs.services.schedules.workflows import schedule_workflow_create, workflow_run_going
from jobs.services.jobs.submission import job_build, save_new
from jobs.states import JobStatus, is_final
from jobs.tables import JOB_SK, Job, Workflow
from jobs.tables.schedules import ACTIVE_SHARD, PENDING_SHARD, Schedule, ScheduleLogEntry


@dataclass
class TickReport:
    due: int = 0
    fired: list = field(default_factory=list)  # (schedule id, due time, job id)
    skipped: list = field(default_factory=list)  # (schedule id, due time)
    completed: list = field(default_factory=list)  # pending firings finished for another scheduler
    released: list = field(default_factory=list)  # delayed job ids
    deliveries: list = field(default_factory=list)  # webhook deliveries published again ("<hook id>/<event id>")
    errors: list = field(default_factory=list)  # (schedule id, what failed): retried by a later tick


def previous_run_running(schedule: Schedule) -> bool:
    """Whether the schedule's last job (or workflow) exists and is not final (one GetItem)."""
    if not schedule.last_job_id:
        return False
    if schedule.workflow_object:
        return workflow_run_going(schedule)
    try:
        return not is_final(Job.get(schedule.last_job_id, JOB_SK, consistent_read=True).status)
    except Job.DoesNotExist:
        return False
    except (GetError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc


def schedule_job_create(
    *, schedule: Schedule, job_id: str, due_at: int, message: str | None = None, items_object: str | None = None,
) -> Job | Workflow:
    """Create (once: the id is derived) and publish the job of one run of the schedule (an item job if it has items).

    `items_object`: the items fixed when the run was claimed (default: the schedule's own).
    A schedule that fires a workflow makes the run's workflow under that id instead (its header is returned).
    """
    if schedule.workflow_object:
        return schedule_workflow_create(schedule=schedule, workflow_id=job_id)
    if schedule.items_object or items_object:
        return schedule_items_job_create(schedule=schedule, job_id=job_id, due_at=due_at, items_object=items_object,
                                         message=message or f"Fired by schedule {schedule.name!r}.")
    job = job_build(
        job_id=job_id, owner=schedule.owner, name=schedule.name, type=schedule.type, payload=schedule.payload,
        schedule_id=schedule.schedule_id, message=message or f"Fired by schedule {schedule.name!r}.",
        priority=schedule.priority,
    )
    job.due_at = due_at
    webhooks.hooks_apply(job, webhooks.job_hooks(owner=schedule.owner, scheduled=True))
    try:
        if not save_new(job):
            # Created already (by a scheduler that died before publishing, or a racing one):
            # publish again if still QUEUED; a duplicate message never runs a job twice.
            job = Job.get(job_id, JOB_SK, consistent_read=True)
            if job.status != JobStatus.QUEUED:
                return job
    except (PutError, GetError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc
    try:
        publishing.job_publish(job_id=job_id, **publishing.job_route(job))
    except QueueUnavailable:
        pass  # stored QUEUED: the recovery pass publishes it
    return job


def _fault_point(schedule: Schedule, due_at: int) -> None:
    """Tests only (BATCHLAB_SCHEDULER_FAULT): stop between the claim and the job's creation."""
    fault = settings.BATCHLAB_SCHEDULER_FAULT
    if not fault:
        return
    logger.warning("fault point after claim: schedule %s due %s (%s)", schedule.schedule_id, due_at, fault)
    if fault == "exit":
        os._exit(137)
    if fault.startswith("sleep:"):
        time.sleep(float(fault.split(":", 1)[1]))


def _run(schedule: Schedule, due_at: int, outcome: str, *, job_id: str | None = None, missed: int = 0,
         message: str | None = None) -> ScheduleLogEntry:
    return run_entry(schedule.schedule_id, due_at=due_at, outcome=outcome, job_id=job_id, missed=missed, message=message)


def _claim(schedule: Schedule, actions: list, run: ScheduleLogEntry, *, condition) -> bool:
    """The conditional write that makes this scheduler the only one acting on this due time; the run is logged with it.

    False if another scheduler (or an edit) got there first: the next tick re-reads.
    """
    if run.job_id:
        actions = [*actions, Schedule.last_run.set(last_run(run))]
    return schedule_write(
        schedule, actions=[*actions, Schedule.updated_at.set(utcnow()), Schedule.version.add(1)],
        condition=condition & (Schedule.version == schedule.version), entries=[run],
    )


def _pending(kind: str, due_at: int, now: float, schedule: Schedule) -> list:
    items = [Schedule.pending_items.set(schedule.items_object)] if schedule.items_object else [Schedule.pending_items.remove()]
    return [Schedule.pending_shard.set(PENDING_SHARD), Schedule.pending_since.set(int(now)),
            Schedule.pending_due_at.set(due_at), Schedule.pending_kind.set(kind), Schedule.pending_attempts.remove(), *items]


def _pending_mirror(schedule: Schedule, due_at: int) -> None:
    """What _pending wrote, on the local copy (a transaction returns no item)."""
    schedule.pending_due_at, schedule.pending_kind = due_at, "fire"
    schedule.pending_items, schedule.pending_attempts = schedule.items_object, None


PENDING_CLEARED = [Schedule.pending_shard.remove(), Schedule.pending_since.remove(), Schedule.pending_due_at.remove(),
                   Schedule.pending_kind.remove(), Schedule.pending_items.remove(), Schedule.pending_attempts.remove()]


def _pending_clear(schedule: Schedule, due_at: int) -> None:
    try:
        schedule.update(
            actions=PENDING_CLEARED,
            condition=(Schedule.pending_due_at == due_at) & (Schedule.pending_kind == "fire"),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise store_error(exc) from exc


def _create_pending(schedule: Schedule, report: TickReport) -> None:
    """Finish a claimed firing (this scheduler's, or a dead one's): create its job, clear the mark.

    A firing whose job cannot be made (its items gone, its payload no longer valid
    for the type, a store outage) is tried again by later ticks; after
    BATCHLAB_SCHEDULE_FIRE_ATTEMPTS failures it is given up and logged as a failed run.
    """
    due_at = int(schedule.pending_due_at)
    job_id = timing.run_job_id(schedule_id=schedule.schedule_id, due_at=due_at)
    try:
        schedule_job_create(schedule=schedule, job_id=job_id, due_at=due_at, items_object=schedule.pending_items)
    except Exception as exc:
        _pending_failed(schedule, due_at, job_id, exc)
        raise
    _pending_clear(schedule, due_at)


def _pending_failed(schedule: Schedule, due_at: int, job_id: str, exc: Exception) -> None:
    """Count a failed attempt on the firing; the last one clears it, logging a failed run (schedule.run_failed), so the schedule goes on."""
    attempts = int(schedule.pending_attempts or 0) + 1
    is_pending = (Schedule.pending_due_at == due_at) & (Schedule.pending_kind == "fire")
    if attempts < settings.BATCHLAB_SCHEDULE_FIRE_ATTEMPTS:
        try:
            schedule.update(actions=[Schedule.pending_attempts.set(attempts)], condition=is_pending, add_version_condition=False)
        except UpdateError as store_exc:
            if not is_condition_failure(store_exc):
                logger.warning("schedule %s: the failed attempt could not be counted: %s", schedule.schedule_id, store_exc)
        return
    message = f"Gave up after {attempts} attempts to create job {job_id}: {exc.__class__.__name__}: {exc}"[:500]
    run = run_entry(schedule.schedule_id, due_at=due_at, outcome="failed", job_id=None, message=message)
    # schedule.run_failed: its deliveries in the run's own transaction (no job, no outbox to carry it).
    event = webhooks.schedule_run_failed_event(owner=schedule.owner, schedule_id=schedule.schedule_id, schedule_name=schedule.name,
                                               due_at=due_at, message=message)
    if schedule_write(schedule, actions=PENDING_CLEARED, condition=is_pending, entries=[run, *event.deliveries]):
        logger.error("schedule %s: %s", schedule.schedule_id, message)
        event.committed()


def schedule_fire_due(*, schedule: Schedule, now: float, report: TickReport) -> None:
    """Act on one due schedule as read: fire, skip or hold its latest due time, once across all schedulers."""
    if schedule.pending_kind == "fire":  # a dead scheduler's firing comes first (its job is created once)
        logger.warning("schedule %s: completing the firing of due %s left by another scheduler",
                       schedule.schedule_id, schedule.pending_due_at)
        _create_pending(schedule, report)
        report.completed.append(schedule.schedule_id)
    read_due = int(schedule.next_run_at)
    catch = timing.catch_up(
        timing.Timing(interval_seconds=schedule.interval_seconds, cron=schedule.cron, timezone=schedule.timezone),
        due_at=read_due, now=now,
    )
    due_at, missed = catch.due_at, catch.missed
    running = schedule.overlap != "allow" and previous_run_running(schedule)
    counters = [Schedule.next_run_at.set(catch.next_run_at), Schedule.last_due_at.set(due_at)]
    if missed:
        counters.append(Schedule.missed_count.add(missed))
    note = f"{missed} due time(s) missed while no scheduler ran; fired once." if missed else None
    claimed_by = Schedule.next_run_at == read_due
    if running and not (schedule.overlap == "queue_one" and schedule.pending_kind is None):
        message = f"Skipped: the previous run {schedule.last_job_id} is still going."
        if _claim(schedule, [*counters, Schedule.skipped_count.add(1)], _run(schedule, due_at, "skipped", missed=missed, message=message),
                  condition=claimed_by):
            report.skipped.append((schedule.schedule_id, due_at))
        return
    if running:  # queue_one: hold this due time until the previous run ends
        message = f"Held: waits for the previous run {schedule.last_job_id} to end."
        _claim(schedule, [*counters, *_pending("held", due_at, now, schedule)], _run(schedule, due_at, "held", missed=missed, message=message),
               condition=claimed_by)
        return
    job_id = timing.run_job_id(schedule_id=schedule.schedule_id, due_at=due_at)
    actions = [*counters, *_pending("fire", due_at, now, schedule), Schedule.last_job_id.set(job_id), Schedule.fired_count.add(1)]
    if not _claim(schedule, actions, _run(schedule, due_at, "fired", job_id=job_id, missed=missed, message=note), condition=claimed_by):
        return
    _fault_point(schedule, due_at)
    _pending_mirror(schedule, due_at)
    _create_pending(schedule, report)
    report.fired.append((schedule.schedule_id, due_at, job_id))
    logger.info("schedule %s fired due %s as job %s%s", schedule.schedule_id, due_at, job_id, f" ({note})" if note else "")


def _release_held(schedule: Schedule, now: float, report: TickReport) -> None:
    """queue_one: the held due time fires once the previous run is final."""
    if previous_run_running(schedule):
        return
    due_at = int(schedule.pending_due_at)
    job_id = timing.run_job_id(schedule_id=schedule.schedule_id, due_at=due_at)
    actions = [*_pending("fire", due_at, now, schedule), Schedule.last_job_id.set(job_id), Schedule.fired_count.add(1)]
    run = _run(schedule, due_at, "fired", job_id=job_id, message="Held run released: the previous run ended.")
    if _claim(schedule, actions, run, condition=(Schedule.pending_due_at == due_at) & (Schedule.pending_kind == "held")):
        _pending_mirror(schedule, due_at)
        _create_pending(schedule, report)
        report.fired.append((schedule.schedule_id, due_at, job_id))


def schedules_tick(*, now: float | None = None, limit: int = 100) -> TickReport:
    """One pass of a scheduler: due schedules, pending firings, due delayed jobs. Safe on every machine at once.

    Requests when idle: four Queries on sparse indexes (due schedules, pending
    firings, due SCHEDULED jobs, webhook deliveries due a message).
    """
    now = time.time() if now is None else now
    report = TickReport()
    grace = settings.BATCHLAB_SCHEDULE_PENDING_GRACE_SECONDS
    try:
        due = list(Schedule.due_index.query(ACTIVE_SHARD, Schedule.next_run_at <= int(now), limit=limit))
        pending = list(Schedule.pending_index.query(PENDING_SHARD, limit=limit))
    except (QueryError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc
    report.due = len(due)
    # queue_one: a held run goes first once its previous run ended, so that a due time
    # coming at the same moment sees it running (that schedule's read below is then
    # stale: its claim fails and the next tick acts on it).
    for schedule in pending:
        if schedule.pending_kind == "held":
            _isolated(report, schedule, lambda s=schedule: _release_held(s, now, report))
    for schedule in due:
        _isolated(report, schedule, lambda s=schedule: schedule_fire_due(schedule=s, now=now, report=report))
    due_ids = {s.schedule_id for s in due}
    for schedule in pending:
        if schedule.schedule_id in due_ids or schedule.pending_kind == "held":
            continue  # handled above (a due schedule with a fresher read)
        if schedule.pending_since is not None and schedule.pending_since <= now - grace:
            logger.warning("schedule %s: completing the firing of due %s left by another scheduler",
                           schedule.schedule_id, schedule.pending_due_at)
            if _isolated(report, schedule, lambda s=schedule: _create_pending(s, report)):
                report.completed.append(schedule.schedule_id)
    report.released = jobs_release_due(now=now)
    report.deliveries = webhooks.deliveries_release_due(now=now)
    return report


def _isolated(report: TickReport, schedule: Schedule, action) -> bool:
    """Act on one schedule; a failure (the store, S3, a schedule's missing items) is logged and left to a later tick.

    One schedule that cannot fire must not hold up the others. A claimed firing
    keeps its pending mark, so the next tick (after the grace period) tries again.
    """
    try:
        action()
    except Exception as exc:  # reported, and retried by a later tick
        logger.warning("schedule %s: this tick failed on it, a later one tries again: %s", schedule.schedule_id, exc)
        report.errors.append((schedule.schedule_id, f"{exc.__class__.__name__}: {exc}"))
        return False
    return True
