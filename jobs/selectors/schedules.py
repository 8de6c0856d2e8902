"""Reads of schedules: one (with its last runs, their jobs and its edits), a user's or every schedule, counters for /metrics."""

from dataclasses import dataclass, field

from pynamodb.exceptions import PynamoDBConnectionError, QueryError

from jobs.exceptions import ScheduleNotFound, StoreUnavailable
from jobs.tables import ALL_SHARD, JOB_SK, WORKFLOW_SK, Job, Workflow
from jobs.tables.schedules import ACTIVE_SHARD, EDIT_PREFIX, RUN_PREFIX, Schedule, ScheduleLogEntry

MAX_LISTED = 200


RUNS_SHOWN = 50
EDITS_SHOWN = 100


@dataclass
class ScheduleView:
    """A schedule with the jobs of its runs by id (runs whose job expired are missing); one schedule's view also has
    its last runs and edits, newest first."""

    schedule: Schedule
    jobs: dict
    runs: list = field(default_factory=list)
    history: list = field(default_factory=list)


def _log(schedule_id: str, prefix: str, limit: int) -> list[ScheduleLogEntry]:
    return list(ScheduleLogEntry.query(schedule_id, ScheduleLogEntry.sk.startswith(prefix), scan_index_forward=False,
                                       limit=limit))


def schedule_get(*, schedule_id: str, owner: str | None, with_jobs: bool = True) -> ScheduleView:
    """The schedule if `owner` may see it (None: staff), else ScheduleNotFound; `with_jobs`: its last 50 runs and 100
    edits (two Queries of its log) and their jobs (one BatchGetItem)."""
    try:
        schedule = Schedule.get(schedule_id)
    except Schedule.DoesNotExist:
        raise ScheduleNotFound(f"No schedule {schedule_id}.") from None
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc
    if owner is not None and schedule.owner != owner:
        raise ScheduleNotFound(f"No schedule {schedule_id}.")
    if not with_jobs:
        return ScheduleView(schedule=schedule, jobs={})
    try:
        runs, history = _log(schedule_id, RUN_PREFIX, RUNS_SHOWN), _log(schedule_id, EDIT_PREFIX, EDITS_SHOWN)
        ids = list(dict.fromkeys(r.job_id for r in runs if r.job_id))
        jobs = _runs_read(schedule, ids)
    except (QueryError, PynamoDBConnectionError) as exc:
        raise StoreUnavailable() from exc
    return ScheduleView(schedule=schedule, jobs=jobs, runs=runs, history=history)


def _runs_read(schedule: Schedule, ids: list[str]) -> dict:
    """The runs' jobs by id (one BatchGetItem per 100); a schedule that fires a workflow: its runs' workflow headers."""
    if not ids:
        return {}
    if schedule.workflow_object:
        return {w.workflow_id: w for w in Workflow.batch_get([(i, WORKFLOW_SK) for i in ids])}
    return {job.job_id: job for job in Job.batch_get([(i, JOB_SK) for i in ids])}


def schedule_list(*, owner: str | None, limit: int = MAX_LISTED) -> list[ScheduleView]:
    """Newest first: a user's schedules, or every schedule (owner=None, staff), with their last run's job."""
    index, key = (Schedule.owner_index, owner) if owner is not None else (Schedule.all_index, ALL_SHARD)
    try:
        schedules = list(index.query(key, scan_index_forward=False, limit=limit))
        last_ids = list(dict.fromkeys(s.last_job_id for s in schedules if s.last_job_id and not s.workflow_object))
        jobs = {job.job_id: job for job in Job.batch_get([(i, JOB_SK) for i in last_ids])} if last_ids else {}
        flows = list(dict.fromkeys(s.last_job_id for s in schedules if s.last_job_id and s.workflow_object))
        jobs.update({w.workflow_id: w for w in Workflow.batch_get([(i, WORKFLOW_SK) for i in flows])} if flows else {})
    except (QueryError, PynamoDBConnectionError) as exc:
        raise StoreUnavailable() from exc
    return [ScheduleView(schedule=s, jobs={s.last_job_id: jobs[s.last_job_id]} if s.last_job_id in jobs else {})
            for s in schedules]


def schedule_counters(*, now: float) -> dict:
    """For /metrics: schedules (active, paused, due now) and runs fired, skipped and missed, summed over schedules."""
    totals = {"schedules_active": 0, "schedules_paused": 0, "schedules_due": 0, "fired": 0, "skipped": 0, "missed": 0}
    try:
        for s in Schedule.all_index.query(ALL_SHARD):
            totals["schedules_paused" if s.paused else "schedules_active"] += 1
            if s.active_shard == ACTIVE_SHARD and s.next_run_at is not None and s.next_run_at <= now:
                totals["schedules_due"] += 1
            totals["fired"] += int(s.fired_count or 0)
            totals["skipped"] += int(s.skipped_count or 0)
            totals["missed"] += int(s.missed_count or 0)
    except (QueryError, PynamoDBConnectionError) as exc:
        raise StoreUnavailable() from exc
    return totals
