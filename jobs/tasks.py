"""Celery glue: `process_job(job_id)` and `process_chunk(job_id, number)` take ids (and the job's flow hints), the webhook tasks ids only; each calls the services."""

from celery import shared_task
from celery.exceptions import Reject

from jobs.worker import deliveries, heartbeat, metrics, visibility, watchdog  # noqa: F401  (connect the worker's heartbeats, receive watchdog, metrics endpoint and delivery worker to Celery's signals)
from jobs.services import PROCESS_CHUNK_TASK, PROCESS_JOB_TASK, chunk_execute, job_execute, worker_id
from jobs.services.webhooks import DELIVER_TASK, DISPATCH_TASK, delivery_run, event_dispatch_run


# The name travels inside every message: keep it stable (publishing sends by it).
@shared_task(name=PROCESS_JOB_TASK, ignore_result=True, acks_late=True)
def process_job(job_id: str, flow: dict | None = None) -> str:
    outcome = job_execute(job_id=str(job_id), flow=flow)
    if outcome == "skipped:busy":
        # Another live claim holds the job. Leave this message in SQS (not
        # deleted): it comes back after the visibility timeout, by when the job
        # is finished (and the message is dropped) or its worker is known dead.
        # A message that keeps coming back while its worker keeps dying is
        # moved to the dead-letter queue by the redrive policy.
        raise Reject("job held by another live claim", requeue=False)
    return outcome


@shared_task(name=PROCESS_CHUNK_TASK, ignore_result=True, acks_late=True)
def process_chunk(job_id: str, number: int, flow: dict | None = None) -> str:
    outcome = chunk_execute(job_id=str(job_id), number=int(number), flow=flow)
    if outcome == "skipped:busy":
        # As for jobs: a live claim holds the chunk; let the message come back later.
        raise Reject("chunk held by another live claim", requeue=False)
    return outcome


# On the webhooks queue (batchlab.celery routes webhooks.* there), run by a delivery worker's threads.
@shared_task(name=DISPATCH_TASK, ignore_result=True, acks_late=True)
def webhook_dispatch(job_id: str, event_id: str) -> str:
    return event_dispatch_run(job_id=str(job_id), event_id=str(event_id), worker=worker_id())


@shared_task(name=DELIVER_TASK, ignore_result=True, acks_late=True)
def webhook_deliver(hook_id: str, event_id: str) -> str:
    return delivery_run(hook_id=str(hook_id), event_id=str(event_id), worker=worker_id())
