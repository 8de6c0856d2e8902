"""Recovery of work that fell through the cracks: stale QUEUED jobs, expired leases, dead letters and their redrive."""

import time
from dataclasses import dataclass, field

from django.conf import settings
from pynamodb.exceptions import UpdateError

from jobs import queues
from jobs.exceptions import QueueUnavailable
from jobs.services import publishing, webhooks
from jobs.services.store import allowed_by, append, entry, is_condition_failure, logger, moves_to, utcnow
from jobs.services.jobs.actions import job_republish, job_requeue_final
from jobs.services.jobs.transitions import job_give_up
from jobs.services.recovery.chunks import item_jobs_recover
from jobs.states import LEASE_EXPIRED, RETRY, JobStatus, is_final
from jobs.tables import JOB_SK, Job


@dataclass
class RecoveryReport:
    republished: list = field(default_factory=list)
    requeued: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    dead_lettered: list = field(default_factory=list)
    chunks_requeued: list = field(default_factory=list)
    chunks_republished: list = field(default_factory=list)
    items_ended: list = field(default_factory=list)
    webhook_events: list = field(default_factory=list)  # "<job id>/<event id>" left in an outbox, published again
    webhook_deliveries: list = field(default_factory=list)  # "<hook id>/<event id>" due a message, published again

    def as_dict(self) -> dict:
        return {k: list(v) for k, v in self.__dict__.items()}


def jobs_recover(*, stale_queued_seconds: int | None = None, limit: int = 500) -> RecoveryReport:
    """One recovery pass; safe to run concurrently on several machines.

    1. Jobs whose message reached the dead-letter queue (a crash loop) -> FAILED.
    2. QUEUED jobs not picked up within the threshold -> published again.
    3. PROCESSING jobs whose lease expired (their worker died) -> QUEUED and
       published again, or FAILED when no attempts are left.
    4. Item jobs, chunk by chunk (jobs.services.recovery.chunks).
    5. Webhook events left in a job's outbox, and deliveries due a message (lost sends).
    Every change is a conditional write on the state that was read, so a job
    that moved meanwhile is left alone, and only one recoverer acts on it.
    """
    report = RecoveryReport()
    _recover_dead_letters(report)
    threshold = stale_queued_seconds if stale_queued_seconds is not None else settings.BATCHLAB_STALE_QUEUED_SECONDS
    now = time.time()
    plain = Job.chunks_total.does_not_exist()  # item jobs are recovered chunk by chunk, below
    stale = [] if _backlog_waiting() else Job.status_index.query(
        JobStatus.QUEUED, filter_condition=(Job.available_at < int(now - threshold)) & plain, limit=limit)
    for job in stale:
        try:
            if job_republish(job=job, message=f"Not picked up within {threshold} s; published again by recovery."):
                report.republished.append(job.job_id)
        except QueueUnavailable:
            logger.warning("recovery: job %s still cannot be published", job.job_id)
    for job in Job.status_index.query(JobStatus.PROCESSING, filter_condition=(Job.lease_expires_at < int(now)) & plain, limit=limit):
        if int(job.attempts) >= int(job.max_attempts):
            message = f"The worker running attempt {int(job.attempts)} stopped responding; no attempts left."
            if job_give_up(job=job, code="worker_lost", message=message):
                report.failed.append(job.job_id)
            continue
        if _lease_expired_requeue(job=job):
            report.requeued.append(job.job_id)
    item_jobs_recover(report=report, stale_seconds=threshold, limit=limit)
    report.webhook_events = webhooks.outboxes_recover(limit=limit)
    report.webhook_deliveries = webhooks.deliveries_release_due(limit=limit)
    if any(report.as_dict().values()):
        logger.info("recovery pass: %s", report.as_dict())
    return report


def _backlog_waiting() -> bool:
    """True while messages wait, visible, in the jobs queue: then no stale QUEUED job is republished.

    Recovery cannot tell a lost message from one waiting behind a backlog older
    than the threshold; republishing would add a copy of every waiting message
    each pass (the fault tests saw 1,278 copies for 1,000 jobs, and throughput
    collapse while workers skipped them). A republished message would wait behind
    the same backlog anyway: once it drains, a job whose message was lost is
    republished. If SQS cannot be read, republish as before.
    """
    try:
        waiting = queues.queue_counts()["queue"]["visible"]
    except Exception as exc:  # botocore raises many types; the publish will tell
        logger.warning("recovery: queue depth unreadable (%s); republishing stale jobs regardless", exc)
        return False
    if waiting:
        logger.info("recovery: %s messages wait in the queue; stale QUEUED jobs are left until it drains", waiting)
    return waiting > 0


def _lease_expired_requeue(*, job: Job) -> bool:
    now = utcnow()
    message = f"Lease of {job.lease_owner} expired during attempt {int(job.attempts)}; queued again by recovery."
    try:
        job.update(
            actions=[
                *moves_to(LEASE_EXPIRED),
                Job.available_at.set(int(now.timestamp())),
                Job.lease_owner.remove(),
                Job.claim_token.remove(),
                Job.lease_expires_at.remove(),
                Job.updated_at.set(now),
                Job.version.add(1),
                append(entry("lease_expired", status=LEASE_EXPIRED.target, message=message)),
            ],
            condition=allowed_by(LEASE_EXPIRED)
            & (Job.claim_token == job.claim_token)
            & (Job.lease_expires_at < int(now.timestamp())),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    try:
        publishing.job_publish(job_id=job.job_id, **publishing.job_route(job))
    except QueueUnavailable:
        pass  # still QUEUED: the next pass republishes it
    return True


def _recover_dead_letters(report: RecoveryReport) -> None:
    """Fail the jobs whose messages sit in the dead-letter queue; the messages stay for redrive."""
    for message in queues.dlq_peek(max_messages=100):
        job_id = message.job_id
        if not job_id:
            continue
        try:
            job = Job.get(job_id, JOB_SK, consistent_read=True)
        except Job.DoesNotExist:
            continue
        if is_final(job.status):
            continue
        if job.status == JobStatus.PROCESSING and (job.lease_expires_at or 0) >= time.time():
            continue  # a live worker holds it; this message was a duplicate
        reason = (
            f"Its message was delivered {message.receive_count} times without finishing "
            "(the worker died each time) and was moved to the dead-letter queue."
        )
        if job_give_up(job=job, code="dead_lettered", message=reason):
            report.dead_lettered.append(job_id)


def dlq_redrive(*, actor: str) -> dict:
    """Move every dead-letter message back to the jobs queue; their jobs go back to QUEUED.

    A FAILED job whose message is redriven gets a fresh budget of attempts (as a
    retry would); a message whose job is gone or already completed is dropped.
    """
    moved, dropped = [], []
    for message in queues.dlq_receive(max_messages=100):
        job_id = message.job_id
        job = None
        if job_id:
            try:
                job = Job.get(job_id, JOB_SK, consistent_read=True)
            except Job.DoesNotExist:
                job = None
        if job is None or job.status in (JobStatus.COMPLETED, JobStatus.CANCELED):
            queues.dlq_delete(message)
            dropped.append(job_id)
            continue
        if RETRY.allows(job.status):  # FAILED (CANCELED was dropped above)
            job_requeue_final(job=job, event="redriven", message=f"Redriven from the dead-letter queue by {actor}.")
        else:
            publishing.job_publish(job_id=job.job_id, **publishing.job_route(job))
        queues.dlq_delete(message)
        moved.append(job_id)
    logger.info("dead-letter redrive by %s: moved=%s dropped=%s", actor, moved, dropped)
    return {"redriven": moved, "dropped": dropped}
