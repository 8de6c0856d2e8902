"""Per-item idempotency keys: an item whose key was completed by the same owner and job type is skipped.

A completed key is an IdempotencyRecord "item#<owner>#<type>#<key>" written by a
conditional PutItem when the item succeeds (the first job to complete it wins);
a chunk reads its items' keys in one BatchGetItem before running them.
"""

from datetime import timedelta

from django.conf import settings
from pynamodb.exceptions import PutError

from jobs.services.store import is_condition_failure, utcnow
from jobs.tables import IdempotencyRecord, Job


def _record_key(job: Job, key: str) -> str:
    return f"item#{job.owner}#{job.type}#{key}"


def keys_completed(*, job: Job, keys: set[str]) -> dict[str, str]:
    """Of `keys`, those completed by another job of the same owner and type: {key: job id} (BatchGetItem)."""
    if not keys:
        return {}
    by_record = {_record_key(job, k): k for k in keys}
    done = {}
    for record in IdempotencyRecord.batch_get(list(by_record)):
        if record.job_id != job.job_id:
            done[by_record[record.key]] = record.job_id
    return done


def key_record(*, job: Job, key: str) -> bool:
    """Record `key` as completed by this job (conditional PutItem); False if another job got there first."""
    record = IdempotencyRecord(
        key=_record_key(job, key),
        body_hash="item",
        job_id=job.job_id,
        created_at=utcnow(),
        expires_at=timedelta(days=settings.BATCHLAB_RETENTION_DAYS),
    )
    try:
        record.save(condition=IdempotencyRecord.key.does_not_exist() | (IdempotencyRecord.job_id == job.job_id))
    except PutError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
