"""Writes: every change to a job's state happens in this module.

Each function states its invariant and its AWS requests. The state machine is
enforced by DynamoDB condition expressions, so two processes racing for one
job cannot both win: a claim is a conditional UpdateItem (QUEUED -> PROCESSING)
that records a lease, and every later write by the worker is fenced by the
claim's token.
"""

import hashlib
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from django.conf import settings
from pynamodb.exceptions import PutError, PynamoDBConnectionError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from jobs import queues
from jobs.exceptions import (
    IdempotencyKeyReused,
    JobNotFound,
    JobStateConflict,
    QueueUnavailable,
    StoreUnavailable,
)
from jobs.handlers.registry import job_type_get
from jobs.states import JobStatus, can_cancel, can_retry, is_final
from jobs.tables import IdempotencyRecord, Job, TimelineEntry

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _entry(event: str, *, status: str | None = None, message: str | None = None, worker: str | None = None):
    return TimelineEntry(at=utcnow(), event=event, status=status, message=message, worker=worker)


def _append(*entries) -> object:
    """The update action that appends timeline entries (list_append, in the same write)."""
    return Job.timeline.set(Job.timeline.append(list(entries)))


def _is_condition_failure(exc: Exception) -> bool:
    cause = getattr(exc, "cause_response_code", None)
    return cause in ("ConditionalCheckFailedException", "TransactionCanceledException")


def _store_error(exc: Exception) -> StoreUnavailable:
    logger.warning("DynamoDB request failed: %s", exc)
    return StoreUnavailable()


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- Submission ----------------------------------------------------------------


def job_submit(
    *, owner: str, name: str, type: str, payload: dict, idempotency_key: str | None = None
) -> tuple[Job, bool]:
    """Store a new QUEUED job and publish its id; return (job, created).

    Requests: one PutItem and one SendMessage (with an Idempotency-Key, one
    TransactWriteItems instead of the PutItem). With a key already seen from this
    owner and the same body, nothing is written and the original job comes back
    with created=False; with a different body, IdempotencyKeyReused.
    If publishing fails the job stays QUEUED and QueueUnavailable is raised: the
    recovery pass publishes it once it is older than BATCHLAB_STALE_QUEUED_SECONDS.
    """
    payload = job_type_get(type).validate(payload)
    now = utcnow()
    job = Job(
        job_id=str(uuid.uuid4()),
        name=name,
        type=type,
        payload=payload,
        status=JobStatus.QUEUED,
        owner=owner,
        created_at=now,
        updated_at=now,
        available_at=int(now.timestamp()),
        attempts=0,
        max_attempts=settings.BATCHLAB_MAX_ATTEMPTS,
        timeline=[_entry("submitted", status=JobStatus.QUEUED, message=f"Submitted by {owner or 'anonymous'}.")],
        expires_at=timedelta(days=settings.BATCHLAB_RETENTION_DAYS),
    )
    try:
        if idempotency_key is None:
            job.save(condition=Job.job_id.does_not_exist())
        else:
            existing = _submit_idempotent(job=job, owner=owner, key=idempotency_key, body={"name": name, "type": type, "payload": payload})
            if existing is not None:
                return existing, False
    # TransactWriteError is not a PynamoDBConnectionError: without it here, an
    # Idempotency-Key submission with DynamoDB unreachable answered 500, not 503.
    # (_submit_idempotent handles the condition failures; only the others get here.)
    except (PutError, PynamoDBConnectionError, TransactWriteError) as exc:
        raise _store_error(exc) from exc
    logger.info("job %s submitted type=%s owner=%s", job.job_id, type, owner)
    job_publish(job_id=job.job_id)
    return job, True


def _idempotency_record_key(owner: str, key: str) -> str:
    return f"{owner}#{key}"


def _submit_idempotent(*, job: Job, owner: str, key: str, body: dict) -> Job | None:
    """Write job and key record together; on a key seen before return its job."""
    body_hash = hashlib.sha256(canonical_json(body).encode()).hexdigest()
    record = IdempotencyRecord(
        key=_idempotency_record_key(owner, key),
        body_hash=body_hash,
        job_id=job.job_id,
        created_at=job.created_at,
        expires_at=timedelta(days=settings.BATCHLAB_RETENTION_DAYS),
    )
    for attempt in range(5):
        try:
            with TransactWrite(connection=Job._get_connection().connection) as transaction:
                transaction.save(record, condition=IdempotencyRecord.key.does_not_exist())
                transaction.save(job, condition=Job.job_id.does_not_exist())
            return None
        except TransactWriteError as exc:
            if not _is_condition_failure(exc):
                raise
        # The key exists: a retry (possibly concurrent) of an earlier request. Read
        # consistently so that a transaction that just committed is seen.
        try:
            seen = IdempotencyRecord.get(_idempotency_record_key(owner, key), consistent_read=True)
            break
        except IdempotencyRecord.DoesNotExist:
            # Two concurrent transactions on one key can both be canceled
            # (TransactionConflict) with neither committed: try again.
            time.sleep(0.05 * (attempt + 1) * random.random())
    else:
        raise StoreUnavailable("Could not record the Idempotency-Key; try again.")
    if seen.body_hash != body_hash:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was already used for job {seen.job_id} with a different request body."
        )
    try:
        return Job.get(seen.job_id, consistent_read=True)
    except Job.DoesNotExist:
        raise JobNotFound(f"Job {seen.job_id} of this Idempotency-Key has expired.") from None


def job_publish(*, job_id: str, countdown: float = 0) -> None:
    """Send the job's id to SQS through Celery (one SendMessage). Raises QueueUnavailable."""
    from jobs.tasks import process_job  # tasks import services: import here, not at module load

    try:
        # The job id doubles as the Celery task id, so that every line Celery logs
        # about this message ("Task jobs.process_job[<job id>] received") names the job.
        process_job.apply_async(args=[job_id], task_id=job_id, countdown=countdown or None, retry=False)
    except Exception as exc:  # kombu/botocore raise many types; all mean "not queued"
        logger.warning("job %s could not be published: %s", job_id, exc)
        raise QueueUnavailable(
            f"Job {job_id} was stored but could not be queued; the recovery pass will queue it.",
            extra={"job_id": job_id},
        ) from exc


# --- Execution (the worker side) ------------------------------------------------


@dataclass
class Claim:
    """What a worker holds while it runs a job: the fencing token and the job as claimed."""

    job: Job
    token: str
    worker: str
    pending_log: list = field(default_factory=list)

    @property
    def job_id(self) -> str:
        return self.job.job_id


def _fenced(claim: Claim):
    return (Job.status == JobStatus.PROCESSING) & (Job.claim_token == claim.token)


def _lease_deadline() -> int:
    return int(time.time()) + settings.BATCHLAB_LEASE_SECONDS


def job_claim(*, job_id: str, worker: str) -> Claim | str:
    """Claim the job for `worker`: QUEUED -> PROCESSING, or take over an expired lease.

    One conditional UpdateItem returning the new item (no read before it). On
    success returns a Claim; otherwise one GetItem tells why and a reason string
    comes back: "missing", "final", "busy" (another live claim) or "exhausted"
    (the job was failed here because it used up its attempts).
    """
    now = utcnow()
    token = uuid.uuid4().hex
    job = Job(job_id)
    claimable = (Job.status == JobStatus.QUEUED) | (
        (Job.status == JobStatus.PROCESSING) & (Job.lease_expires_at < int(now.timestamp()))
    )
    try:
        job.update(
            actions=[
                Job.status.set(JobStatus.PROCESSING),
                Job.attempts.add(1),
                Job.started_at.set(now),
                Job.updated_at.set(now),
                Job.lease_owner.set(worker),
                Job.claim_token.set(token),
                Job.lease_expires_at.set(_lease_deadline()),
                Job.version.add(1),
                _append(_entry("claimed", status=JobStatus.PROCESSING, worker=worker)),
            ],
            condition=Job.job_id.exists() & claimable & (Job.attempts < Job.max_attempts),
        )
    except UpdateError as exc:
        if not _is_condition_failure(exc):
            raise
        return _claim_refused(job_id=job_id)
    return Claim(job=job, token=token, worker=worker)


def _claim_refused(*, job_id: str) -> str:
    try:
        job = Job.get(job_id, consistent_read=True)
    except Job.DoesNotExist:
        return "missing"
    if is_final(job.status):
        return "final"
    lease_live = job.status == JobStatus.PROCESSING and (job.lease_expires_at or 0) >= time.time()
    if lease_live:
        return "busy"
    # QUEUED or an expired lease, but no attempts left: fail it for good.
    message = f"Gave up after {int(job.attempts)} attempts."
    if job.status == JobStatus.PROCESSING:
        message = f"The worker running attempt {int(job.attempts)} stopped responding; no attempts left."
    _job_fail_unclaimed(job=job, code="max_attempts_exceeded", message=message)
    return "exhausted"


def _job_fail_unclaimed(*, job: Job, code: str, message: str) -> bool:
    """FAILED for a job nobody holds (conditional on the state that was read)."""
    now = utcnow()
    condition = (Job.status == job.status) & (Job.version == job.version)
    try:
        job.update(
            actions=[
                Job.status.set(JobStatus.FAILED),
                Job.error.set({"code": code, "message": message}),
                Job.finished_at.set(now),
                Job.updated_at.set(now),
                Job.lease_expires_at.remove(),
                Job.version.add(1),
                _append(_entry("failed", status=JobStatus.FAILED, message=message)),
            ],
            condition=condition,
            add_version_condition=False,
        )
    except UpdateError as exc:
        if not _is_condition_failure(exc):
            raise
        return False
    logger.info("job %s FAILED (%s): %s", job.job_id, code, message)
    return True


def _flush_log(claim: Claim, *entries) -> list:
    """Log lines the handler wrote since the last write ride along with this one, before `entries`."""
    pending, claim.pending_log = claim.pending_log + list(entries), []
    return [_append(*pending)] if pending else []


def job_progress(*, claim: Claim, done: int, total: int) -> None:
    """Record progress and renew the lease (one fenced UpdateItem); refreshes claim.job.

    Raises LeaseLost if the claim was taken over (this worker must stop).
    """
    _fenced_update(
        claim,
        [
            Job.progress_done.set(done),
            Job.progress_total.set(total),
            Job.lease_expires_at.set(_lease_deadline()),
            Job.version.add(1),
            *_flush_log(claim),
        ],
    )


def job_heartbeat(*, claim: Claim) -> None:
    """Renew the lease (one fenced UpdateItem); also reads back CancelRequested."""
    _fenced_update(claim, [Job.lease_expires_at.set(_lease_deadline()), Job.version.add(1), *_flush_log(claim)])


class LeaseLost(Exception):
    """The claim's token no longer matches: another worker owns the job now, or it was failed."""


def _fenced_update(claim: Claim, actions: list) -> None:
    try:
        claim.job.update(actions=[*actions, Job.updated_at.set(utcnow())], condition=_fenced(claim), add_version_condition=False)
    except UpdateError as exc:
        if _is_condition_failure(exc):
            raise LeaseLost(f"job {claim.job_id}: the claim of {claim.worker} was taken over") from None
        raise


def job_complete(*, claim: Claim, result, progress: tuple[int, int] | None = None) -> None:
    """PROCESSING -> COMPLETED with the result and final progress (one fenced UpdateItem)."""
    now = utcnow()
    actions = [
        Job.status.set(JobStatus.COMPLETED),
        Job.result.set(result),
        Job.error.remove(),
        Job.finished_at.set(now),
        Job.lease_expires_at.remove(),
        Job.version.add(1),
        *_flush_log(claim, _entry("completed", status=JobStatus.COMPLETED, worker=claim.worker)),
    ]
    if progress is not None:
        actions += [Job.progress_done.set(progress[0]), Job.progress_total.set(progress[1])]
    _fenced_update(claim, actions)
    logger.info("job %s COMPLETED attempt=%s", claim.job_id, int(claim.job.attempts))


def job_fail(*, claim: Claim, code: str, message: str) -> None:
    """PROCESSING -> FAILED with {code, message} (one fenced UpdateItem); no more attempts."""
    now = utcnow()
    _fenced_update(
        claim,
        [
            Job.status.set(JobStatus.FAILED),
            Job.error.set({"code": code, "message": message}),
            Job.finished_at.set(now),
            Job.lease_expires_at.remove(),
            Job.version.add(1),
            *_flush_log(claim, _entry("failed", status=JobStatus.FAILED, message=message, worker=claim.worker)),
        ],
    )
    logger.info("job %s FAILED (%s): %s", claim.job_id, code, message)


def retry_delay(*, attempt: int) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**(attempt-1)))."""
    ceiling = min(settings.BATCHLAB_RETRY_MAX_SECONDS, settings.BATCHLAB_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    # SQS cannot delay a message more than 15 minutes.
    return min(random.uniform(ceiling / 2, ceiling), 900.0)


def job_retry_later(*, claim: Claim, code: str, message: str) -> float:
    """PROCESSING -> QUEUED after a transient error, then republish with backoff.

    One fenced UpdateItem and one SendMessage (delayed). Returns the delay.
    The caller checks attempts first: with none left it calls job_fail instead.
    """
    delay = retry_delay(attempt=int(claim.job.attempts))
    _fenced_update(
        claim,
        [
            Job.status.set(JobStatus.QUEUED),
            Job.error.set({"code": code, "message": message}),
            Job.available_at.set(int(time.time() + delay)),
            Job.lease_owner.remove(),
            Job.claim_token.remove(),
            Job.lease_expires_at.remove(),
            Job.version.add(1),
            *_flush_log(
                claim,
                _entry(
                    "retry_scheduled",
                    status=JobStatus.QUEUED,
                    message=f"Attempt {int(claim.job.attempts)} failed: {message} Retrying in {delay:.1f} s.",
                    worker=claim.worker,
                ),
            ),
        ],
    )
    try:
        job_publish(job_id=claim.job_id, countdown=delay)
    except QueueUnavailable:
        pass  # stays QUEUED; the recovery pass republishes it
    return delay


def job_mark_canceled(*, claim: Claim, progress_done: int | None = None) -> None:
    """PROCESSING -> CANCELED after the handler saw the cancel request (one fenced UpdateItem)."""
    now = utcnow()
    done = progress_done if progress_done is not None else int(claim.job.progress_done or 0)
    total = int(claim.job.progress_total or 0)
    what = f" after {done} of {total} units" if total else ""
    _fenced_update(
        claim,
        [
            Job.status.set(JobStatus.CANCELED),
            Job.finished_at.set(now),
            Job.progress_done.set(done),
            Job.lease_expires_at.remove(),
            Job.version.add(1),
            *_flush_log(claim, _entry("canceled", status=JobStatus.CANCELED, message=f"Stopped on request{what}.", worker=claim.worker)),
        ],
    )
    logger.info("job %s CANCELED while processing%s", claim.job_id, what)


# --- Actions by users and staff ------------------------------------------------------


def _get_visible(*, job_id: str, owner: str | None) -> Job:
    try:
        job = Job.get(job_id, consistent_read=True)
    except Job.DoesNotExist:
        raise JobNotFound(f"No job {job_id}.") from None
    except PynamoDBConnectionError as exc:
        raise _store_error(exc) from exc
    if owner is not None and job.owner != owner:
        raise JobNotFound(f"No job {job_id}.")
    return job


def job_cancel(*, job_id: str, owner: str | None, actor: str) -> Job:
    """Cancel: QUEUED -> CANCELED at once; PROCESSING gets CancelRequested for its handler.

    `owner` limits the action to that user's jobs (None: staff). A final job raises
    JobStateConflict. One GetItem and one conditional UpdateItem.
    """
    job = _get_visible(job_id=job_id, owner=owner)
    now = utcnow()
    if not can_cancel(job.status):
        raise JobStateConflict(f"Job {job_id} is {job.status} and cannot be canceled.", extra={"job_status": job.status})
    try:
        if job.status == JobStatus.QUEUED:
            job.update(
                actions=[
                    Job.status.set(JobStatus.CANCELED),
                    Job.finished_at.set(now),
                    Job.updated_at.set(now),
                    Job.version.add(1),
                    _append(_entry("canceled", status=JobStatus.CANCELED, message=f"Canceled by {actor} before it ran.")),
                ],
                condition=Job.status == JobStatus.QUEUED,
                add_version_condition=False,
            )
        else:
            job.update(
                actions=[
                    Job.cancel_requested.set(True),
                    Job.updated_at.set(now),
                    Job.version.add(1),
                    _append(_entry("cancel_requested", status=JobStatus.PROCESSING, message=f"Cancel requested by {actor}.")),
                ],
                condition=Job.status == JobStatus.PROCESSING,
                add_version_condition=False,
            )
    except UpdateError as exc:
        if _is_condition_failure(exc):
            # It moved between our read and write (claimed or finished): the caller may try again.
            raise JobStateConflict(f"Job {job_id} changed state while being canceled; try again.") from None
        raise _store_error(exc) from exc
    logger.info("job %s cancel by %s (was %s)", job_id, actor, job.status)
    return job


def job_retry(*, job_id: str, owner: str | None, actor: str) -> Job:
    """Re-queue a FAILED or CANCELED job: same id, timeline kept, a fresh budget of attempts.

    One GetItem, one conditional UpdateItem, one SendMessage. Other states: JobStateConflict.
    """
    job = _get_visible(job_id=job_id, owner=owner)
    if not can_retry(job.status):
        raise JobStateConflict(f"Job {job_id} is {job.status}; only FAILED or CANCELED jobs can be retried.", extra={"job_status": job.status})
    _requeue(job=job, event="retried", message=f"Retry requested by {actor}.", expected_status=job.status)
    return job


def _requeue(*, job: Job, event: str, message: str, expected_status: str) -> None:
    now = utcnow()
    try:
        job.update(
            actions=[
                Job.status.set(JobStatus.QUEUED),
                Job.max_attempts.set(int(job.attempts) + settings.BATCHLAB_MAX_ATTEMPTS),
                Job.available_at.set(int(now.timestamp())),
                Job.cancel_requested.set(False),
                Job.error.remove(),
                Job.result.remove(),
                Job.finished_at.remove(),
                Job.lease_owner.remove(),
                Job.claim_token.remove(),
                Job.lease_expires_at.remove(),
                Job.progress_done.set(0),
                Job.updated_at.set(now),
                Job.version.add(1),
                Job.expires_at.set(timedelta(days=settings.BATCHLAB_RETENTION_DAYS)),
                _append(_entry(event, status=JobStatus.QUEUED, message=message)),
            ],
            condition=(Job.status == expected_status) & (Job.version == job.version),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if _is_condition_failure(exc):
            raise JobStateConflict(f"Job {job.job_id} changed state meanwhile; try again.") from None
        raise _store_error(exc) from exc
    logger.info("job %s %s: %s", job.job_id, event, message)
    job_publish(job_id=job.job_id)


def job_requeue(*, job_id: str, actor: str) -> Job:
    """Staff: publish a QUEUED job's message again (e.g. after its message was lost).

    Safe at any time: a duplicate message never runs the job twice.
    """
    job = _get_visible(job_id=job_id, owner=None)
    if job.status != JobStatus.QUEUED:
        raise JobStateConflict(f"Job {job_id} is {job.status}; only QUEUED jobs can be requeued.", extra={"job_status": job.status})
    _republish(job=job, message=f"Requeued by {actor}.")
    return job


def _republish(*, job: Job, message: str) -> bool:
    """Mark a QUEUED job republished (conditional, so one of several recoverers wins), then publish."""
    now = utcnow()
    try:
        job.update(
            actions=[
                Job.available_at.set(int(now.timestamp())),
                Job.updated_at.set(now),
                Job.version.add(1),
                _append(_entry("republished", status=JobStatus.QUEUED, message=message)),
            ],
            condition=(Job.status == JobStatus.QUEUED) & (Job.version == job.version),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if _is_condition_failure(exc):
            return False
        raise
    job_publish(job_id=job.job_id)
    return True


# --- Recovery --------------------------------------------------------------------


@dataclass
class RecoveryReport:
    republished: list = field(default_factory=list)
    requeued: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    dead_lettered: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: list(v) for k, v in self.__dict__.items()}


def jobs_recover(*, stale_queued_seconds: int | None = None, limit: int = 500) -> RecoveryReport:
    """One recovery pass; safe to run concurrently on several machines.

    1. Jobs whose message reached the dead-letter queue (a crash loop) -> FAILED.
    2. QUEUED jobs not picked up within the threshold -> published again.
    3. PROCESSING jobs whose lease expired (their worker died) -> QUEUED and
       published again, or FAILED when no attempts are left.
    Every change is a conditional write on the state that was read, so a job
    that moved meanwhile is left alone, and only one recoverer acts on it.
    """
    report = RecoveryReport()
    _recover_dead_letters(report)
    threshold = stale_queued_seconds if stale_queued_seconds is not None else settings.BATCHLAB_STALE_QUEUED_SECONDS
    now = time.time()
    for job in Job.status_index.query(JobStatus.QUEUED, filter_condition=Job.available_at < int(now - threshold), limit=limit):
        try:
            if _republish(job=job, message=f"Not picked up within {threshold} s; published again by recovery."):
                report.republished.append(job.job_id)
        except QueueUnavailable:
            logger.warning("recovery: job %s still cannot be published", job.job_id)
    for job in Job.status_index.query(JobStatus.PROCESSING, filter_condition=Job.lease_expires_at < int(now), limit=limit):
        if int(job.attempts) >= int(job.max_attempts):
            message = f"The worker running attempt {int(job.attempts)} stopped responding; no attempts left."
            if _job_fail_unclaimed(job=job, code="worker_lost", message=message):
                report.failed.append(job.job_id)
            continue
        if _lease_expired_requeue(job=job):
            report.requeued.append(job.job_id)
    if any(report.as_dict().values()):
        logger.info("recovery pass: %s", report.as_dict())
    return report


def _lease_expired_requeue(*, job: Job) -> bool:
    now = utcnow()
    message = f"Lease of {job.lease_owner} expired during attempt {int(job.attempts)}; queued again by recovery."
    try:
        job.update(
            actions=[
                Job.status.set(JobStatus.QUEUED),
                Job.available_at.set(int(now.timestamp())),
                Job.lease_owner.remove(),
                Job.claim_token.remove(),
                Job.lease_expires_at.remove(),
                Job.updated_at.set(now),
                Job.version.add(1),
                _append(_entry("lease_expired", status=JobStatus.QUEUED, message=message)),
            ],
            condition=(Job.status == JobStatus.PROCESSING) & (Job.claim_token == job.claim_token) & (Job.lease_expires_at < int(now.timestamp())),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if _is_condition_failure(exc):
            return False
        raise
    try:
        job_publish(job_id=job.job_id)
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
            job = Job.get(job_id, consistent_read=True)
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
        if _job_fail_unclaimed(job=job, code="dead_lettered", message=reason):
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
                job = Job.get(job_id, consistent_read=True)
            except Job.DoesNotExist:
                job = None
        if job is None or job.status == JobStatus.COMPLETED or job.status == JobStatus.CANCELED:
            queues.dlq_delete(message)
            dropped.append(job_id)
            continue
        if job.status == JobStatus.FAILED:
            _requeue(job=job, event="redriven", message=f"Redriven from the dead-letter queue by {actor}.", expected_status=JobStatus.FAILED)
        else:
            job_publish(job_id=job.job_id)
        queues.dlq_delete(message)
        moved.append(job_id)
    logger.info("dead-letter redrive by %s: moved=%s dropped=%s", actor, moved, dropped)
    return {"redriven": moved, "dropped": dropped}
