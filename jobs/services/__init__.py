"""Every write, by lifecycle: import the public names from here.

- lease/ (the one mechanism of every claimed unit): unit_claim, fenced_write, the lease
  keeper, the one runner (unit_execute, RetryLater), Outcome, requeue after expiry
- jobs/: job_submit (submission), jobs_submit_bulk (bulk), the worker's transitions
  (job_claim, job_progress, job_heartbeat, job_log, job_complete, job_fail,
  job_retry_later, job_mark_canceled, job_give_up), job_execute (runner), effects (the hook
  every status change carries)
- items/: job_submit_items, job_submit_file, the chunk's writes (chunks), chunk_execute
  (runner), an item job's start and end (completion), item_keys, job_retry_items (actions)
- actions (users and staff, any job): job_cancel, job_retry, job_requeue
- schedules/: schedule_create, schedule_update, schedule_pause, schedule_resume,
  schedule_delete, schedule_run_now (actions); schedules_tick (scheduler); jobs_release_due,
  job_run_now (delayed)
- recovery/: jobs_recover (one sweep over jobs and chunks), dlq_redrive (dead_letters)
- flow/ (staff): type_settings_update, type_pause, type_resume (a job type's priority, pause and limits);
  the gate a runner passes before its claim
- publishing: job_publish, chunks_publish; workers: worker_heartbeat, worker_retire
- workflows/: workflow_submit, workflow_cancel, workflow_retry (a DAG of steps, each a job; a step's end
  tells its children through the effects hook: jobs.services.workflows.effects)
"""

from jobs.services.actions import job_cancel, job_requeue, job_retry
from jobs.services.flow import type_pause, type_resume, type_settings_update
from jobs.services.items.runner import chunk_execute
from jobs.services.items.submission import ItemsSource, items_inline, job_submit_items
from jobs.services.jobs.runner import JobContext, job_execute, worker_id
from jobs.services.jobs.submission import job_submit
from jobs.services.jobs.transitions import (
    job_claim,
    job_complete,
    job_fail,
    job_give_up,
    job_heartbeat,
    job_log,
    job_mark_canceled,
    job_progress,
    job_retry_later,
)
from jobs.services.lease.claim import Claim, LeaseLost, Refused
from jobs.services.lease.outcome import Outcome
from jobs.services.lease.runner import RetryLater, backoff_seconds
from jobs.services.publishing import PROCESS_CHUNK_TASK, PROCESS_JOB_TASK, chunks_publish, job_publish
from jobs.services.recovery.dead_letters import dlq_redrive
from jobs.services.recovery.sweep import RecoveryReport, jobs_recover
from jobs.services.schedules.actions import (
    schedule_create,
    schedule_delete,
    schedule_pause,
    schedule_resume,
    schedule_run_now,
    schedule_update,
)
from jobs.services.schedules.delayed import job_run_now, jobs_release_due
from jobs.services.schedules.scheduler import TickReport, schedules_tick
from jobs.services.store import utcnow
from jobs.services.workers import WorkerBeat, worker_heartbeat, worker_retire
from jobs.services.workflows import workflow_cancel, workflow_retry, workflow_submit

__all__ = [
    "PROCESS_CHUNK_TASK",
    "PROCESS_JOB_TASK",
    "Claim",
    "ItemsSource",
    "JobContext",
    "LeaseLost",
    "Outcome",
    "RecoveryReport",
    "Refused",
    "RetryLater",
    "TickReport",
    "WorkerBeat",
    "backoff_seconds",
    "chunk_execute",
    "chunks_publish",
    "dlq_redrive",
    "items_inline",
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
    "job_submit_items",
    "jobs_recover",
    "jobs_release_due",
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
    "worker_heartbeat",
    "worker_id",
    "worker_retire",
    "workflow_cancel",
    "workflow_retry",
    "workflow_submit",
]
