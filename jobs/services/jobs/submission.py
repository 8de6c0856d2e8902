"""Submission: store a new QUEUED (or SCHEDULED, when due far ahead) job (with its Idempotency-Key when given) and publish its id."""

import hashlib
import math
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

from django.conf import settings
from pynamodb.exceptions import PutError, PynamoDBConnectionError, TransactWriteError
from pynamodb.transactions import TransactWrite

from jobs import metrics
from jobs.exceptions import IdempotencyKeyReused, JobNotFound, StoreUnavailable
from jobs.handlers.registry import job_type_get
from jobs.selectors.flow import type_limits
from jobs.services import publishing, webhooks
from jobs.services.store import canonical_json, entry, is_condition_failure, logger, store_error, store_retry, utcnow
from jobs.states import JobStatus
from jobs.tables import DUE_SHARD, JOB_SK, IdempotencyRecord, Job


def job_submit(
    *, owner: str, name: str, type: str, payload: dict, idempotency_key: str | None = None, validate: bool = True,
    run_at: datetime | None = None, priority: str | None = None, concurrency_key: str | None = None,
    webhook: dict | None = None,
) -> tuple[Job, bool]:
    """Store a new QUEUED job and publish its id to its priority's queue; return (job, created).

    The payload is validated by its job type (UnknownJobType, InvalidPayload),
    unless the caller already did exactly that (`validate=False`: the API's
    serializer, so that a POST validates the payload once).
    Requests: one PutItem and one SendMessage (with an Idempotency-Key, one
    TransactWriteItems instead of the PutItem). With a key already seen from this
    owner and the same body, nothing is written and the original job comes back
    with created=False; with a different body, IdempotencyKeyReused.
    If publishing fails the job stays QUEUED and QueueUnavailable is raised: the
    recovery pass publishes it once it is older than BATCHLAB_STALE_QUEUED_SECONDS.
    With `run_at` (a delayed job): up to BATCHLAB_SCHEDULED_THRESHOLD_SECONDS ahead
    the message carries an SQS delay; further ahead the job is stored SCHEDULED
    (nothing published) and the scheduler publishes it when due.
    `priority` (default: the type's) picks the queue; `concurrency_key` is what the
    type's key limits count the job under (default: its owner).
    Webhooks: one consistent Query of the owner's endpoints fixes which events the
    job records (jobs.services.webhooks.job_hooks); `webhook` is the job's own callback.
    """
    if validate:
        payload = job_type_get(type).validate(payload)
    job = job_build(job_id=str(uuid.uuid4()), owner=owner, name=name, type=type, payload=payload, run_at=run_at,
                    priority=priority, concurrency_key=concurrency_key)
    webhooks.hooks_apply(job, webhooks.job_hooks(owner=owner, callback=webhook))
    try:
        if idempotency_key is None:
            save_new(job)
        else:
            body = idempotent_body(name=name, type=type, payload=payload, priority=priority, concurrency_key=concurrency_key,
                                   webhook=webhook, run_at=run_at)
            existing = submit_idempotent(job=job, owner=owner, key=idempotency_key, body=body)
            if existing is not None:
                return existing, False
    # TransactWriteError is not a PynamoDBConnectionError: without it here, an
    # Idempotency-Key submission with DynamoDB unreachable answered 500, not 503.
    # (submit_idempotent handles the condition failures; only the others get here.)
    except (PutError, PynamoDBConnectionError, TransactWriteError) as exc:
        raise store_error(exc) from exc
    logger.info("job %s submitted type=%s owner=%s status=%s", job.job_id, type, owner, job.status)
    metrics.JOBS_SUBMITTED.labels(type=type).inc()
    if job.status == JobStatus.QUEUED:
        publishing.job_publish(job_id=job.job_id, delay_seconds=max(0, int(job.available_at - time.time())),
                               **publishing.job_route(job))
    return job, True


def idempotent_body(*, name: str, type: str, payload: dict, priority: str | None = None,
                    concurrency_key: str | None = None, webhook: dict | None = None, run_at: datetime | None = None) -> dict:
    """What an Idempotency-Key's retry must repeat; a priority, a key or a callback only when given (older keys stay valid)."""
    body = {"name": name, "type": type, "payload": payload}
    if webhook is not None:
        body["webhook"] = webhook
    if priority is not None:
        body["priority"] = str(priority)
    if concurrency_key is not None:
        body["concurrency_key"] = concurrency_key
    return with_run_at(body, run_at)


def with_run_at(body: dict, run_at: datetime | None) -> dict:
    """The body an Idempotency-Key is compared by, with the due time when one was given (to the second)."""
    if run_at is None:
        return body
    return {**body, "run_at": int(math.ceil(run_at.timestamp()))}


def job_build(
    *, job_id: str, owner: str, name: str, type: str, payload: dict, run_at: datetime | None = None,
    schedule_id: str | None = None, message: str | None = None, priority: str | None = None,
    concurrency_key: str | None = None,
) -> Job:
    """A new job item (not saved): QUEUED, or SCHEDULED when `run_at` is beyond the SQS delay threshold.

    Without a `priority`, the type's default (its settings, as this process read them last).
    """
    now = utcnow()
    due, status = due_plan(run_at=run_at, now=now)
    later = status == JobStatus.SCHEDULED
    if message is None:
        message = f"Submitted by {owner or 'anonymous'}."
        if due is not None:
            message += f" Due at {run_at.astimezone(timezone.utc).isoformat(timespec='seconds')}."
    return Job(
        job_id=job_id,
        name=name,
        type=type,
        payload=payload,
        status=status,
        owner=owner,
        created_at=now,
        updated_at=now,
        # A delayed QUEUED job is not stale before its due time (see recovery).
        available_at=max(int(now.timestamp()), due or 0),
        attempts=0,
        max_attempts=settings.BATCHLAB_MAX_ATTEMPTS,
        timeline=[entry("submitted", status=status, message=message)],
        due_at=due,
        due_shard=DUE_SHARD if later else None,
        schedule_id=schedule_id,
        expires_at=expires_after(run_at=run_at, now=now),
        priority=str(priority or type_limits(type=type).priority),
        concurrency_key=concurrency_key,
    )


def due_plan(*, run_at: datetime | None, now: datetime) -> tuple[int | None, JobStatus]:
    """(due time in epoch seconds or None, first status): SCHEDULED beyond BATCHLAB_SCHEDULED_THRESHOLD_SECONDS, else QUEUED."""
    due = int(math.ceil(run_at.timestamp())) if run_at is not None else None
    later = due is not None and due - now.timestamp() > settings.BATCHLAB_SCHEDULED_THRESHOLD_SECONDS
    return due, JobStatus.SCHEDULED if later else JobStatus.QUEUED


def expires_after(*, run_at: datetime | None, now: datetime) -> timedelta:
    """A job is kept for the retention period after its due time (a delayed job lives that much longer)."""
    return timedelta(days=settings.BATCHLAB_RETENTION_DAYS) + max(timedelta(0), (run_at or now) - now)


def _idempotency_record_key(owner: str, key: str) -> str:
    return f"{owner}#{key}"


def _body_hash(body: dict) -> str:
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def idempotent_seen(*, owner: str, key: str, body: dict) -> Job | None:
    """The job an Idempotency-Key of this owner made already (one consistent GetItem), or None when the key is new.

    IdempotencyKeyReused when the key came with another body; JobNotFound when its job has expired.
    Used before a submission that writes much (an item job's chunks, a file's upload), so that a
    replay writes nothing; the submission's own transaction still decides a race between two requests.
    """
    try:
        seen = IdempotencyRecord.get(_idempotency_record_key(owner, key), consistent_read=True)
    except IdempotencyRecord.DoesNotExist:
        return None
    except PynamoDBConnectionError as exc:
        raise store_error(exc) from exc
    return _replayed(seen, key=key, body_hash=_body_hash(body))


def _replayed(seen: IdempotencyRecord, *, key: str, body_hash: str) -> Job:
    if seen.body_hash != body_hash:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was already used for job {seen.job_id} with a different request body."
        )
    try:
        return Job.get(seen.job_id, JOB_SK, consistent_read=True)
    except Job.DoesNotExist:
        raise JobNotFound(f"Job {seen.job_id} of this Idempotency-Key has expired.") from None


def submit_idempotent(*, job: Job, owner: str, key: str, body: dict) -> Job | None:
    """Write job and key record together; on a key seen before return its job."""
    body_hash = _body_hash(body)
    record = IdempotencyRecord(
        key=_idempotency_record_key(owner, key),
        body_hash=body_hash,
        job_id=job.job_id,
        created_at=job.created_at,
        expires_at=timedelta(days=settings.BATCHLAB_RETENTION_DAYS),
    )
    def write():
        with TransactWrite(connection=Job._get_connection().connection) as transaction:
            transaction.save(record, condition=IdempotencyRecord.key.does_not_exist())
            transaction.save(job, condition=Job.job_id.does_not_exist())

    for attempt in range(5):
        try:
            # Two requests with one key at once conflict (TransactionConflict): tried again, then one is refused.
            store_retry(write, what=f"submission of job {job.job_id} with its Idempotency-Key")
            return None
        except TransactWriteError as exc:
            if not is_condition_failure(exc):
                raise
        # The key exists: a retry (possibly concurrent) of an earlier request. Read
        # consistently so that a transaction that just committed is seen.
        try:
            seen = IdempotencyRecord.get(_idempotency_record_key(owner, key), consistent_read=True)
            break
        except IdempotencyRecord.DoesNotExist:  # refused by the job's own condition: its id is taken (a lost answer)
            time.sleep(0.05 * (attempt + 1) * random.random())
    else:
        raise StoreUnavailable("Could not record the Idempotency-Key; try again.")
    return _replayed(seen, key=key, body_hash=body_hash)


def save_new(job: Job) -> bool:
    """PutItem of a new job, on condition that its id is new; False if that id exists.

    With a fresh uuid4 the condition can only fail if an earlier try of this same
    PutItem was applied and its answer lost (the SDK retried): the item that exists
    is ours, and the caller goes on as created (answering 503 would tell the
    client that nothing was stored while the job sits QUEUED: a client retry would
    make two). With an id derived from a schedule's due time, the job that exists
    is the run another scheduler created.
    """
    try:
        job.save(condition=Job.job_id.does_not_exist())
    except PutError as exc:
        if not is_condition_failure(exc):
            raise
        logger.info("job %s exists already: this PutItem (a retry, or another scheduler's) was refused by the job itself",
                    job.job_id)
        return False
    return True
