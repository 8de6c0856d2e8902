"""Reads: one job, many jobs by id, listings with filters and cursors, counts, queue depth, dead letters, workers."""

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from pynamodb.exceptions import PynamoDBConnectionError

from jobs import queues
from jobs.exceptions import InvalidCursor, JobNotFound, QueueUnavailable, StoreUnavailable
from jobs.states import JobStatus, is_final
from jobs.tables import ALL_SHARD, JOB_SK, Job, WorkerRecord

_CURSOR_SALT = "batchlab.jobs.cursor"
MAX_IDS = 100


def job_get(*, job_id: str, owner: str | None) -> Job:
    """The job, if `owner` may see it (None: staff, sees all); else JobNotFound."""
    try:
        job = Job.get(job_id, JOB_SK)
    except Job.DoesNotExist:
        raise JobNotFound(f"No job {job_id}.") from None
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc
    if (owner is not None and job.owner != owner) or _expired(job):
        raise JobNotFound(f"No job {job_id}.")
    return job


def _expired(job: Job) -> bool:
    """Past its retention (ExpiresAt): gone for every reader at once, although DynamoDB's TTL
    sweeper may take up to two days to delete the item."""
    return job.expires_at is not None and job.expires_at <= datetime.now(UTC)


def jobs_get_many(*, job_ids: list[str], owner: str | None) -> list[Job]:
    """Jobs by id in one BatchGetItem (ids not found or not visible are left out), in the order asked."""
    wanted = list(dict.fromkeys(job_ids))[:MAX_IDS]
    try:
        found = {job.job_id: job for job in Job.batch_get([(job_id, JOB_SK) for job_id in wanted])}
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc
    return [found[i] for i in wanted
            if i in found and (owner is None or found[i].owner == owner) and not _expired(found[i])]


@dataclass
class JobPage:
    items: list[Job]
    next_cursor: str | None


def _query_fingerprint(**filters) -> str:
    return hashlib.sha256(repr(sorted(filters.items())).encode()).hexdigest()[:16]


def cursor_for(last_key: dict | None, fingerprint: str) -> str | None:
    """The opaque cursor of the page after `last_key` (signed, tied to the listing's filters); None on the last page."""
    return signing.dumps({"k": last_key, "q": fingerprint}, salt=_CURSOR_SALT, compress=True) if last_key else None


def _decode_cursor(cursor: str, fingerprint: str) -> dict:
    try:
        data = signing.loads(cursor, salt=_CURSOR_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidCursor() from None
    if not isinstance(data, dict) or data.get("q") != fingerprint or not isinstance(data.get("k"), dict):
        raise InvalidCursor("The cursor belongs to a listing with other filters.")
    return data["k"]


def job_list(
    *, owner: str | None, status: str | None = None, type: str | None = None, limit: int = 20, cursor: str | None = None,
    name_contains: str | None = None,
) -> JobPage:
    """Newest first. Always a Query on an index, never a Scan.

    owner=None lists every job (staff) through the AllCreatedAt index, or the
    StatusCreatedAt index when filtering by status; a user's listing uses
    OwnerCreatedAt. Other filters are filter expressions on that Query.
    """
    fingerprint = _query_fingerprint(owner=owner, status=status, type=type, name=name_contains)
    last_key = _decode_cursor(cursor, fingerprint) if cursor else None
    condition = None

    def add(c):
        nonlocal condition
        condition = c if condition is None else condition & c

    # Expired jobs (past ExpiresAt, not yet swept by DynamoDB's TTL) are left out at once.
    not_expired = Job.expires_at > datetime.now(UTC)
    if type:
        add(Job.type == type)
    if name_contains:
        add(Job.name.contains(name_contains))
    if owner is not None:
        index, hash_key = Job.owner_index, owner
        if status:
            add(Job.status == status)
    elif status:
        index, hash_key = Job.status_index, status
    else:
        index, hash_key = Job.all_index, ALL_SHARD
    # With a filter, DynamoDB's Limit counts items before filtering: read bigger pages.
    # (Expired items are few, TTL deletes them within days: that filter alone keeps the page size.)
    page_size = limit if condition is None else max(limit, 100)
    try:
        results = index.query(
            hash_key,
            filter_condition=not_expired if condition is None else condition & not_expired,
            scan_index_forward=False,
            limit=limit,
            page_size=page_size,
            last_evaluated_key=last_key,
        )
        items = list(results)
        next_key = results.last_evaluated_key if len(items) == limit else None
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc
    return JobPage(items=items, next_cursor=cursor_for(next_key, fingerprint))


def job_status_counts() -> dict[str, int]:
    """Count of jobs per status, cached per process for BATCHLAB_STATUS_COUNTS_CACHE_SECONDS.

    A COUNT Query still reads (and bills) every item of its index partition,
    so staff pages and /metrics share one result for a while.
    """
    ttl = settings.BATCHLAB_STATUS_COUNTS_CACHE_SECONDS
    counts = cache.get("batchlab:status-counts") if ttl else None
    if counts is not None:
        return counts
    try:
        counts = {status.value: Job.status_index.count(status.value) for status in JobStatus}
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc
    if ttl:
        cache.set("batchlab:status-counts", counts, ttl)
    return counts


def job_unfinished_counts() -> dict[str, int]:
    """Jobs per unfinished status (SCHEDULED, QUEUED, PROCESSING): the gauge /metrics reports.

    Final statuses are left out: their partitions grow with retention (millions of
    items at 100 jobs/s), a COUNT Query bills every item it reads, and their
    rates are in the job counters already.
    """
    try:
        return {status.value: Job.status_index.count(status.value) for status in JobStatus if not is_final(status)}
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc


def store_ping() -> None:
    """One GetItem of a key that does not exist: proves the table answers."""
    try:
        Job.get("healthz-probe", JOB_SK)
    except Job.DoesNotExist:
        return


def queue_ping() -> None:
    """Proves the jobs queue answers (readiness)."""
    queues.queue_ping()


def oldest_queued_age() -> float:
    """Seconds the longest-waiting QUEUED job has been due (0 if none): the jobs queue's oldest-message age.

    From DynamoDB (StatusCreatedAt, oldest first), not SQS, which cannot tell:
    a job waiting for its retry backoff is not counted until it is due.
    """
    now = time.time()
    try:
        oldest = list(Job.status_index.query(JobStatus.QUEUED.value, scan_index_forward=True, limit=25, page_size=25))
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc
    return max([0.0] + [now - float(job.available_at) for job in oldest if job.available_at is not None])


def dlq_oldest_age() -> float:
    """Seconds since the oldest sampled dead letter was first sent (0 if the dead-letter queue is empty)."""
    sent_at = queues.dlq_oldest_sent_at()
    return 0.0 if sent_at is None else max(0.0, time.time() - sent_at)


def queue_counts() -> dict:
    """Approximate messages per queue (jobs and dead letters): {queue: {visible, in_flight, delayed}}.

    Raises QueueUnavailable when SQS does not answer.
    """
    try:
        return queues.queue_counts()
    except (BotoCoreError, ClientError) as exc:
        raise QueueUnavailable(_QUEUE_DOWN) from exc


def dead_letters_peek(*, max_messages: int = 100) -> list[queues.DeadLetter]:
    """The dead-letter queue's messages, left in place (each with its job id and receive count).

    Raises QueueUnavailable when SQS does not answer.
    """
    try:
        return queues.dlq_peek(max_messages=max_messages)
    except (BotoCoreError, ClientError) as exc:
        raise QueueUnavailable(_QUEUE_DOWN) from exc


_QUEUE_DOWN = "The queue service (SQS) is unavailable; try again shortly."


@dataclass(frozen=True)
class WorkerView:
    """A worker's record and whether it is alive: it beat within the last two of its intervals."""

    record: WorkerRecord
    alive: bool
    seconds_since_seen: float


def workers_list() -> list[WorkerView]:
    """Every worker whose record has not expired: alive ones first, then stale ones, each by name.

    One Scan: the table holds one small item per worker process. Expired records
    are left out at once, although DynamoDB's TTL sweeper deletes them later.
    """
    try:
        records = list(WorkerRecord.scan(WorkerRecord.expires_at > datetime.now(UTC)))
    except PynamoDBConnectionError as exc:
        raise StoreUnavailable() from exc
    now = datetime.now(UTC)  # after the read: a beat written during the scan is not in the future
    views = []
    for record in records:
        age = max(0.0, (now - record.last_seen_at).total_seconds())
        views.append(WorkerView(record=record, alive=age <= 2 * float(record.heartbeat_seconds), seconds_since_seen=age))
    return sorted(views, key=lambda v: (not v.alive, v.record.name, v.record.worker_id))


def workers_count() -> dict[str, int]:
    """{"alive": n, "stale": m} (readiness and metrics)."""
    views = workers_list()
    alive = sum(1 for v in views if v.alive)
    return {"alive": alive, "stale": len(views) - alive}
