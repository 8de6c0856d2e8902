"""Worker heartbeats: each worker process records who it is and what it runs; a stopping worker removes itself."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, PutError, PynamoDBConnectionError

from jobs.services.store import store_error, utcnow
from jobs.tables import WorkerRecord

# A record outlives its last beat by this many intervals: long enough for staff
# to see that a worker died (shown stale), short enough to drop out on its own.
EXPIRE_AFTER_BEATS = 40


@dataclass(frozen=True)
class WorkerBeat:
    """What a worker reports about itself (see jobs.worker.heartbeat)."""

    worker_id: str
    name: str
    host: str
    pid: int
    version: str
    concurrency: int
    started_at: datetime
    running: list[str]
    jobs_done: int
    last_job_at: datetime | None
    last_receive_at: datetime | None
    receive_failures: int


def worker_heartbeat(*, beat: WorkerBeat, interval: float) -> WorkerRecord:
    """Write this worker's record (one PutItem, last writer wins: only the worker writes its own id).

    The record expires EXPIRE_AFTER_BEATS intervals after this beat unless a
    later beat pushes that back. Raises StoreUnavailable when DynamoDB does not answer.
    """
    now = utcnow()
    record = WorkerRecord(
        worker_id=beat.worker_id,
        name=beat.name,
        host=beat.host,
        pid=beat.pid,
        version=beat.version,
        concurrency=beat.concurrency,
        started_at=beat.started_at,
        last_seen_at=now,
        heartbeat_seconds=interval,
        running=list(beat.running),
        jobs_done=beat.jobs_done,
        last_job_at=beat.last_job_at,
        last_receive_at=beat.last_receive_at,
        receive_failures=beat.receive_failures,
        expires_at=now + timedelta(seconds=interval * EXPIRE_AFTER_BEATS),
    )
    try:
        record.save()
    except (PutError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc
    return record


def worker_retire(*, worker_id: str) -> None:
    """Remove a stopping worker's record (one DeleteItem): it is gone, not stale."""
    try:
        WorkerRecord(worker_id=worker_id).delete()
    except (DeleteError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc
