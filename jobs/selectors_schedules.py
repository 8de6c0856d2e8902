"""Reads of schedules: one (with the jobs of its last runs), a user's or every schedule, counters for /metrics."""

from dataclasses import dataclass

from pynamodb.exceptions import PynamoDBConnectionError, QueryError

from jobs.exceptions import ScheduleNotFound, StoreUnavailable
from jobs.tables import ALL_SHARD, JOB_SK, Job
from jobs.tables_schedules import ACTIVE_SHARD, Schedule

MAX_LISTED = 200


@dataclass
class ScheduleView:
    """A schedule with the jobs of its recorded runs, by id (runs whose job expired are missing)."""

    schedule: Schedule
    jobs: dict


def schedule_get(*, schedule_id: str, owner: str | None, with_jobs: bool = True) -> ScheduleView:
    """The schedule if `owner` may see it (None: staff), with its runs' jobs (one BatchGetItem); else ScheduleNotFound."""
    try:
        schedule = Schedule.get(schedule_id)
    except Schedule.DoesNotExist:
        raise ScheduleNotFound(f"No schedule {schedule_id}.") from None
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc
    if owner is not None and schedule.owner != owner:
        raise ScheduleNotFound(f"No schedule {schedule_id}.")
    jobs = {}
    ids = list(dict.fromkeys(r.job_id for r in schedule.runs or [] if r.job_id))
    if with_jobs and ids:
        try:
            jobs = {job.job_id: job for job in Job.batch_get([(i, JOB_SK) for i in ids])}
        except PynamoDBConnectionError as exc:
            raise StoreUnavailable() from exc
    return ScheduleView(schedule=schedule, jobs=jobs)


def schedule_list(*, owner: str | None, limit: int = MAX_LISTED) -> list[ScheduleView]:
    """Newest first: a user's schedules, or every schedule (owner=None, staff), with their last run's job."""
    index, key = (Schedule.owner_index, owner) if owner is not None else (Schedule.all_index, ALL_SHARD)
    try:
        schedules = list(index.query(key, scan_index_forward=False, limit=limit))
        last_ids = list(dict.fromkeys(s.last_job_id for s in schedules if s.last_job_id))
        jobs = {job.job_id: job for job in Job.batch_get([(i, JOB_SK) for i in last_ids])} if last_ids else {}
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
