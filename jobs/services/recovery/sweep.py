"""One recovery sweep over every leased unit, jobs and chunks alike: expired leases, stale waiting units, dead letters, item jobs left unended.

Each unit is repaired on its own: one that cannot be read or written is
reported in `errors` and skipped, so one poison unit never stops the pass for
the units behind it. Every change is a conditional write on the state that was
read (jobs.services.lease.expiry), so several recoverers can run at once.
"""

import time
from dataclasses import dataclass, field

from django.conf import settings

from jobs.exceptions import QueueUnavailable
from jobs.services import publishing, webhooks
from jobs.services.items.chunks import chunk_give_up
from jobs.services.items.completion import job_items_finish_if_done
from jobs.services.jobs.actions import job_republish
from jobs.services.jobs.transitions import job_give_up
from jobs.services.lease.expiry import (
    backlog_waiting,
    lease_expired,
    republish_due,
    unit_mark_republished,
    unit_requeue_expired,
)
from jobs.services.lease.units import CHUNK, JOB
from jobs.services.recovery.dead_letters import dead_letters_recover
from jobs.services.workflows.recovery import workflows_recover
from jobs.services.store import entry, logger, timeline_add
from jobs.states import LEASE_EXPIRED, ChunkStatus, JobStatus
from jobs.chunk_content import chunk_outcomes
from jobs.tables import CHUNK_SK_PREFIX, Chunk, Job


@dataclass
class RecoveryReport:
    republished: list = field(default_factory=list)
    requeued: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    dead_lettered: list = field(default_factory=list)
    chunks_requeued: list = field(default_factory=list)
    chunks_republished: list = field(default_factory=list)
    chunks_ended: list = field(default_factory=list)
    items_ended: list = field(default_factory=list)
    workflow_steps_told: list = field(default_factory=list)  # step job ids whose end recovery told on
    workflow_plans: list = field(default_factory=list)  # workflows whose start, cancel or retry recovery carried on
    webhook_events: list = field(default_factory=list)  # "<job id>/<event id>" left in an outbox, published again
    webhook_deliveries: list = field(default_factory=list)  # "<hook id>/<event id>" due a message, published again
    # (unit, what went wrong): units this pass could not repair; the next pass tries again.
    errors: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: list(v) for k, v in self.__dict__.items()}


def _isolated(report: RecoveryReport, label: str, repair) -> None:
    try:
        repair()
    except Exception as exc:  # this unit alone: reported, and the pass goes on
        logger.warning("recovery: %s could not be repaired: %s", label, exc)
        report.errors.append((label, str(exc)[:300]))


def jobs_recover(*, stale_queued_seconds: int | None = None, limit: int = 500) -> RecoveryReport:
    """One recovery pass over jobs and chunks; safe to run concurrently on several machines.

    1. Units whose message reached the dead-letter queue (a crash loop) end for good.
    2. Units whose lease expired (their worker died) wait again and are published
       again, or end for good when no attempts are left.
    3. Waiting units not picked up long after they were due are published again,
       behind the backlog guard (jobs.services.lease.expiry).
    4. Item jobs whose chunks are all done but that were not ended are ended.
    5. Workflows: ends and plans whose process died (jobs.services.workflows.recovery).
    6. Webhook events left in a job's outbox, and deliveries due a message (lost sends).
    """
    report = RecoveryReport()
    threshold = stale_queued_seconds if stale_queued_seconds is not None else settings.BATCHLAB_STALE_QUEUED_SECONDS
    _isolated(report, "dead letters", lambda: dead_letters_recover(report))
    now = time.time()
    backlog = backlog_waiting()
    plain = Job.chunks_total.does_not_exist()
    for job in Job.status_index.query(JobStatus.PROCESSING, filter_condition=(Job.lease_expires_at < int(now)) & plain, limit=limit):
        _isolated(report, job.job_id, lambda job=job: _job_expired(job, now=now, report=report))
    for job in Job.status_index.query(JobStatus.QUEUED, filter_condition=(Job.available_at < int(now - threshold)) & plain, limit=limit):
        if republish_due(job, now=now, threshold=threshold, backlog=backlog):
            _isolated(report, job.job_id, lambda job=job: _job_republish(job, threshold=threshold, report=report))
    for status in (JobStatus.QUEUED, JobStatus.PROCESSING):
        for job in Job.status_index.query(status, filter_condition=Job.chunks_total.exists(), limit=limit):
            _isolated(report, job.job_id, lambda job=job: _item_job(job, now=now, threshold=threshold, backlog=backlog, report=report))
    _isolated(report, "workflows", lambda: _workflows(report, threshold=threshold, limit=limit))
    _isolated(report, "webhook outboxes", lambda: setattr(report, "webhook_events", webhooks.outboxes_recover(limit=limit)))
    _isolated(report, "webhook deliveries",
              lambda: setattr(report, "webhook_deliveries", webhooks.deliveries_release_due(limit=limit)))
    if any(report.as_dict().values()):
        logger.info("recovery pass: %s", report.as_dict())
    return report


def _job_expired(job: Job, *, now: float, report: RecoveryReport) -> None:
    if int(job.attempts) >= int(job.max_attempts):
        message = f"The worker running attempt {int(job.attempts)} stopped responding; no attempts left."
        if job_give_up(job=job, code="worker_lost", message=message):
            report.failed.append(job.job_id)
        return
    message = f"Lease of {job.lease_owner} expired during attempt {int(job.attempts)}; queued again by recovery."
    if unit_requeue_expired(kind=JOB, unit=job, now=now,
                            actions=[timeline_add(job, entry("lease_expired", status=LEASE_EXPIRED.target, message=message))]):
        report.requeued.append(job.job_id)
        _publish(lambda: publishing.job_publish(job_id=job.job_id, **publishing.job_route(job)), job.job_id)


def _job_republish(job: Job, *, threshold: int, report: RecoveryReport) -> None:
    try:
        if job_republish(job=job, message=f"Not picked up within {threshold} s of its due time; published again by recovery."):
            report.republished.append(job.job_id)
    except QueueUnavailable:
        logger.warning("recovery: job %s still cannot be published", job.job_id)


def _publish(send, label: str) -> None:
    try:
        send()
    except QueueUnavailable:
        logger.warning("recovery: %s still cannot be published; the next pass tries again", label)


def _item_job(job: Job, *, now: float, threshold: int, backlog: bool, report: RecoveryReport) -> None:
    if int(job.chunks_done or 0) >= int(job.chunks_total or 0):
        if job_items_finish_if_done(job_id=job.job_id):
            report.items_ended.append(job.job_id)
        return
    unfinished = Chunk.chunk_status.is_in(ChunkStatus.PENDING, ChunkStatus.PROCESSING)
    requeue = []
    for chunk in Chunk.query(job.job_id, Chunk.sk.startswith(CHUNK_SK_PREFIX), filter_condition=unfinished):
        label = f"{job.job_id}#{int(chunk.number)}"
        _isolated(report, label, lambda chunk=chunk, label=label: _chunk(chunk, label, now=now, threshold=threshold,
                                                                       backlog=backlog, report=report, requeue=requeue,
                                                                       since=_released_at(job)))
    if requeue:
        _publish(lambda: publishing.chunks_publish(job_id=job.job_id, numbers=requeue, **publishing.job_route(job)),
                 f"chunks of job {job.job_id}")
    if any(label.startswith(job.job_id) for label in report.chunks_ended):
        if job_items_finish_if_done(job_id=job.job_id):
            report.items_ended.append(job.job_id)


def _released_at(job: Job) -> int:
    """A workflow's item step: when its release made its chunks due (its chunks were written long before); else 0."""
    return int(job.available_at or 0) if job.workflow_id else 0


def _chunk(chunk: Chunk, label: str, *, now: float, threshold: int, backlog: bool, report: RecoveryReport, requeue: list,
           since: int = 0) -> None:
    if chunk.chunk_status == ChunkStatus.PROCESSING and lease_expired(chunk, now=now):
        limit = int(chunk.max_attempts if chunk.max_attempts is not None else settings.BATCHLAB_MAX_ATTEMPTS)
        if int(chunk.attempts or 0) >= limit:
            message = (f"The worker running attempt {int(chunk.attempts)} of this chunk stopped responding before "
                       "this item's outcome was kept (it may have run); no attempts left. Retry the job to run it again.")
            outcomes = chunk_outcomes(chunk) or [None] * int(chunk.item_count)
            if chunk_give_up(chunk=chunk, outcomes=outcomes, code="worker_lost", message=message):
                report.chunks_ended.append(label)
        elif unit_requeue_expired(kind=CHUNK, unit=chunk, now=now):
            report.chunks_requeued.append(label)
            requeue.append(int(chunk.number))
    elif chunk.chunk_status == ChunkStatus.PENDING and republish_due(chunk, now=now, threshold=threshold, backlog=backlog,
                                                                     since=since):
        if unit_mark_republished(kind=CHUNK, unit=chunk, now=now):
            report.chunks_republished.append(label)
            requeue.append(int(chunk.number))


def _workflows(report: RecoveryReport, *, threshold: int, limit: int) -> None:
    flows = workflows_recover(stale_seconds=threshold, limit=limit)
    report.workflow_steps_told += flows.steps_told
    report.workflow_plans += flows.plans_finished + flows.submissions_deleted
