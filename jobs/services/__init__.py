"""Every write to a job, by lifecycle: import the public names from here.

- submission: job_submit (with Idempotency-Key), publishing: job_publish
- execution (the worker's writes): job_claim, job_progress, job_heartbeat, job_log,
  job_complete, job_fail, job_retry_later, job_mark_canceled, job_give_up
- runner: job_execute runs one job (claim, handler, outcome) through execution
- actions (users and staff): job_cancel, job_retry, job_requeue
- recovery: jobs_recover (stale QUEUED, expired leases, dead letters), dlq_redrive
- workers: worker_heartbeat, worker_retire (each worker's own record in the workers table)
- delayed: jobs_release_due, job_run_now (jobs stored SCHEDULED until due)
- schedules (users and staff): schedule_create, schedule_update, schedule_pause,
  schedule_resume, schedule_delete, schedule_run_now
- scheduler (the scheduler process): schedules_tick (fire due schedules once, release due jobs)
- flow (staff): type_settings_update, type_pause, type_resume (a job type's priority, pause and limits)
- item jobs (batches): item_submission (job_submit_items), chunks (the chunk's writes and
  the job's one completion), item_runner (chunk_execute), item_actions (job_retry_items),
  item_keys (per-item idempotency keys), bulk (jobs_submit_bulk)
"""

from jobs.services.store import utcnow
from jobs.services.jobs.actions import job_cancel, job_requeue, job_retry
from jobs.services.schedules.delayed import job_run_now, jobs_release_due
from jobs.services.jobs.transitions import (
    Claim,
    LeaseLost,
    job_claim,
    job_complete,
    job_fail,
    job_give_up,
    job_heartbeat,
    job_log,
    job_mark_canceled,
    job_progress,
    job_retry_later,
    retry_delay,
)
from jobs.services.items.runner import chunk_execute
from jobs.services.items.submission import ItemsSource, items_inline, job_submit_items
from jobs.services.publishing import PROCESS_CHUNK_TASK, PROCESS_JOB_TASK, chunks_publish, job_publish
from jobs.services.recovery.sweep import RecoveryReport, dlq_redrive, jobs_recover
from jobs.services.jobs.runner import JobContext, job_execute, worker_id
from jobs.services.schedules.scheduler import TickReport, schedules_tick
from jobs.services.schedules.actions import (
    schedule_create,
    schedule_delete,
    schedule_pause,
    schedule_resume,
    schedule_run_now,
    schedule_update,
)
from jobs.services.jobs.submission import job_submit
from jobs.services.workers import WorkerBeat, worker_heartbeat, worker_retire
from jobs.services.flow import type_pause, type_resume, type_settings_update

__all__ = [
    "PROCESS_CHUNK_TASK",
    "PROCESS_JOB_TASK",
    "ItemsSource",
    "chunk_execute",
    "chunks_publish",
    "items_inline",
    "job_submit_items",
    "Claim",
    "JobContext",
    "LeaseLost",
    "RecoveryReport",
    "TickReport",
    "dlq_redrive",
    "job_cancel",
    "job_claim",
    "job_complete",
    "job_execute",
    "job_fail",
    "job_give_up",
    "job_heartbeat",
    "job_log",
    "job_mark_canceled",
    "job_progress",
    "job_publish",
    "job_requeue",
    "job_retry",
    "job_retry_later",
    "job_run_now",
    "job_submit",
    "jobs_recover",
    "jobs_release_due",
    "retry_delay",
    "schedule_create",
    "schedule_delete",
    "schedule_pause",
    "schedule_resume",
    "schedule_run_now",
    "schedule_update",
    "schedules_tick",
    "type_pause",
    "type_resume",
    "type_settings_update",
    "utcnow",
    "WorkerBeat",
    "worker_heartbeat",
    "worker_retire",
]
