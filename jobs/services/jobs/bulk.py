"""Bulk submission of independent jobs: every job checked first, then BatchWriteItem (25 a call) and SendMessageBatch (10 a call).

Each job keeps its own id, state, retries and idempotency: a job with an
idempotency key is written by its own TransactWriteItems (a key must be
checked and recorded atomically, which BatchWriteItem cannot do); the others
share BatchWriteItem calls, whose unprocessed items PynamoDB retries.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import PutError, PynamoDBConnectionError, PynamoDBException, TransactWriteError

from jobs.exceptions import InvalidWebhook
from jobs.handlers.registry import job_type_get
from jobs.services import publishing, webhooks
from jobs.services.store import logger, store_error
from jobs.services.jobs.submission import idempotent_body, job_build, submit_idempotent
from jobs.states import JobStatus
from jobs.tables import Job

MAX_BULK = 100


@dataclass
class BulkSpec:
    name: str
    type: str
    payload: dict
    idempotency_key: str | None = None
    run_at: datetime | None = None  # a delayed job: SCHEDULED when far ahead, else an SQS delay
    priority: str | None = None  # default: the type's
    concurrency_key: str | None = None
    webhook: dict | None = None  # the job's own callback {"url", "events"}


def _hooks_checked(*, owner: str, specs: list[BulkSpec]) -> list[dict]:
    """Each spec's webhook attributes (one Query of the owner's endpoints for all); every bad callback, named by its index, before any write."""
    records = webhooks.owner_endpoints(owner=owner)
    shared = webhooks.job_hooks(owner=owner, records=records)
    out, errors = [], {}
    for index, spec in enumerate(specs):
        try:
            out.append(webhooks.job_hooks(owner=owner, callback=spec.webhook, records=records) if spec.webhook else shared)
        except InvalidWebhook as exc:
            errors.update({f"jobs[{index}].{field}": messages for field, messages in exc.errors.items()})
    if errors:
        raise InvalidWebhook(errors)
    return out


def jobs_submit_bulk(*, owner: str, specs: list[BulkSpec]) -> list[tuple[Job, bool]]:
    """Store up to 100 QUEUED jobs and queue them; returns [(job, created)] in the order given.

    A spec with `run_at` far ahead is stored SCHEDULED (the scheduler queues it when
    due); one a few minutes ahead is queued with an SQS delay.

    The caller validated every payload, and every callback is checked here before
    any write (all-or-nothing: nothing is written when one is bad; InvalidWebhook
    names each bad one as jobs[i].webhook.*). Requests: ceil(n/25) BatchWriteItem + one TransactWriteItems per keyed
    job, ceil(n/10) SendMessageBatch per priority. A key seen before returns its job (created=False),
    which is not queued again. QueueUnavailable leaves the jobs QUEUED for recovery.
    """
    if len(specs) > MAX_BULK:
        raise ValueError(f"at most {MAX_BULK} jobs")
    for spec in specs:
        job_type_get(spec.type)
    out: list[tuple[Job, bool]] = []
    hooks_of = _hooks_checked(owner=owner, specs=specs)
    try:
        plain = []
        for spec, hooks in zip(specs, hooks_of):
            job = job_build(job_id=str(uuid.uuid4()), owner=owner, name=spec.name, type=spec.type, payload=spec.payload,
                            run_at=spec.run_at, priority=spec.priority, concurrency_key=spec.concurrency_key)
            webhooks.hooks_apply(job, hooks)
            if spec.idempotency_key is None:
                plain.append(job)
                out.append((job, True))
                continue
            body = idempotent_body(name=spec.name, type=spec.type, payload=spec.payload, priority=spec.priority, run_at=spec.run_at,
                                   concurrency_key=spec.concurrency_key, webhook=spec.webhook)
            existing = submit_idempotent(job=job, owner=owner, key=spec.idempotency_key, body=body)
            out.append((existing, False) if existing is not None else (job, True))
        with Job.batch_write() as batch:
            for job in plain:
                batch.save(job)
    except (PutError, PynamoDBConnectionError, TransactWriteError, PynamoDBException) as exc:
        raise store_error(exc) from exc
    created = [job for job, new in out if new and job.status == JobStatus.QUEUED]
    logger.info("bulk: %s jobs submitted by %s (%s new)", len(out), owner, sum(new for _, new in out))
    now = time.time()
    later = [job for job in created if job.available_at > now + 1]  # delayed a few minutes: each with its SQS delay
    by_priority: dict[str, list] = {}
    for job in created:
        if job not in later:
            by_priority.setdefault(job.priority, []).append(job)
    for priority, group in by_priority.items():  # one queue per priority: SendMessageBatch sends to one
        publishing.tasks_publish(messages=[(publishing.PROCESS_JOB_TASK, [job.job_id], job.job_id,
                                            {"flow": publishing.job_route(job)["flow"]}) for job in group],
                                 priority=priority)
    for job in later:
        publishing.job_publish(job_id=job.job_id, delay_seconds=int(job.available_at - now), **publishing.job_route(job))
    return out
