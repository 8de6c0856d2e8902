"""Celery glue: `process_job(job_id)` and `process_chunk(job_id, number)` take ids (and the job's flow hints), the webhook tasks ids only; each calls the services.

Both run with Celery's own retry machinery, as the design asks: `autoretry_for`
the transient failures (RetryLater), `retry_backoff`, `retry_backoff_max`,
`retry_jitter` and `max_retries` from BatchLab's settings, and `acks_late`. On
SQS that is made safe by `LeasedTask`:

- the unit's record is written back first (a job QUEUED, a chunk PENDING, with
  the error, the attempt count and the next attempt time), fenced by the claim:
  a worker that lost its lease publishes no retry;
- the retry's countdown travels as an SQS message delay (at most 900 s, the
  largest BATCHLAB_RETRY_MAX_SECONDS allows), never as an ETA that the receiving
  worker would hold unacknowledged past what the visibility heartbeat hides;
- the attempts cap stays the unit's own (its record's Attempts and MaxAttempts);
  Celery's max_retries, counted per message lineage, can only come second.
"""

import logging
import math
from datetime import datetime, timezone

from celery import Task, shared_task
from celery.exceptions import Ignore, Reject
from django.conf import settings

from jobs.services import PROCESS_CHUNK_TASK, PROCESS_JOB_TASK, RetryLater, chunk_execute, job_execute, worker_id
from jobs.services.webhooks import DELIVER_TASK, DISPATCH_TASK, delivery_run, event_dispatch_run
# Connect the worker's heartbeats, receive watchdog, metrics endpoint and delivery worker to
# Celery's signals. The heartbeat first: receivers run in the order they were connected, and at
# shutdown the worker's record is removed before the delivery worker's sends in flight are
# waited for (up to the webhook timeout), not after, so a stopped worker leaves the list at once.
from jobs.worker import heartbeat  # noqa: F401
from jobs.worker import deliveries, metrics, visibility, watchdog  # noqa: F401

logger = logging.getLogger(__name__)


class LeasedTask(Task):
    """A task over a leased unit: Celery's retries, recorded on the unit and delayed by SQS."""

    autoretry_for = (RetryLater,)
    retry_backoff = max(1, int(settings.BATCHLAB_RETRY_BASE_SECONDS))
    retry_backoff_max = int(settings.BATCHLAB_RETRY_MAX_SECONDS)
    retry_jitter = settings.BATCHLAB_RETRY_JITTER
    # One attempt is the first run; the unit's own MaxAttempts caps them first.
    max_retries = settings.BATCHLAB_MAX_ATTEMPTS - 1
    acks_late = True
    ignore_result = True

    def apply_async(self, args=None, kwargs=None, task_id=None, producer=None, link=None, link_error=None,
                    shadow=None, **options):
        """A countdown or an ETA becomes an SQS message delay (DelaySeconds), never a message held by a worker."""
        countdown, eta = options.pop("countdown", None), options.pop("eta", None)
        if eta is not None:
            countdown = (eta - datetime.now(timezone.utc)).total_seconds()
        if countdown:
            options["delay_seconds"] = min(900, max(0, math.ceil(countdown)))
        return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)

    def retry(self, args=None, kwargs=None, exc=None, throw=True, eta=None, countdown=None, max_retries=None, **options):
        if isinstance(exc, RetryLater):
            limit = self.max_retries if max_retries is None else max_retries
            if limit is not None and self.request.retries >= limit:
                exc.give_up()
                raise Ignore()
            if not exc.record(float(countdown or 0)):
                raise Ignore()  # the lease was lost: the unit's new owner decides, nothing is published
        return super().retry(args=args, kwargs=kwargs, exc=exc, throw=throw, eta=eta, countdown=countdown,
                             max_retries=max_retries, **options)


def _settled(outcome, what: str):
    if outcome.leaves_message:
        # Another live claim holds the unit (or it must wait): leave this message in SQS
        # (not deleted). It comes back after the visibility timeout, by when the unit is
        # finished (and the message is dropped) or its worker is known dead. A message
        # that keeps coming back while its worker keeps dying is moved to the dead-letter
        # queue by the redrive policy.
        raise Reject(f"{what} held by another live claim", requeue=False)
    return str(outcome)


# The names travel inside every message: keep them stable (publishing sends by them).
@shared_task(bind=True, base=LeasedTask, name=PROCESS_JOB_TASK)
def process_job(self, job_id: str, flow: dict | None = None) -> str:
    return _settled(job_execute(job_id=str(job_id), defer_retry=True, flow=flow), "job")


@shared_task(bind=True, base=LeasedTask, name=PROCESS_CHUNK_TASK)
def process_chunk(self, job_id: str, number: int, flow: dict | None = None) -> str:
    return _settled(chunk_execute(job_id=str(job_id), number=int(number), defer_retry=True, flow=flow), "chunk")


# On the webhooks queue (batchlab.celery routes webhooks.* there), run by a delivery worker's threads.
@shared_task(name=DISPATCH_TASK, ignore_result=True, acks_late=True)
def webhook_dispatch(job_id: str, event_id: str) -> str:
    return event_dispatch_run(job_id=str(job_id), event_id=str(event_id), worker=worker_id())


@shared_task(name=DELIVER_TASK, ignore_result=True, acks_late=True)
def webhook_deliver(hook_id: str, event_id: str) -> str:
    return delivery_run(hook_id=str(hook_id), event_id=str(event_id), worker=worker_id())
