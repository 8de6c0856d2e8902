"""The webhooks queue's messages, sent by task name: hand an event to delivery (dispatch), or try a delivery (deliver).

Both carry ids only. Celery routes every `webhooks.*` task to the `<prefix>webhooks`
queue (batchlab.celery), which a delivery worker consumes, never a job worker.
"""

import logging

from celery import current_app

from jobs.exceptions import QueueUnavailable

logger = logging.getLogger("jobs.services")

DISPATCH_TASK = "webhooks.dispatch"
DELIVER_TASK = "webhooks.deliver"


def _send(name: str, args: list, *, delay_seconds: int = 0) -> None:
    options = {"delay_seconds": min(900, int(delay_seconds))} if delay_seconds > 0 else {}
    try:
        current_app.send_task(name, args=args, retry=False, **options)
    except Exception as exc:  # kombu/botocore raise many types; all mean "not queued"
        logger.warning("%s%s could not be published: %s", name, args, exc)
        raise QueueUnavailable("The webhook message could not be queued; the recovery pass will send it.") from exc


def dispatch_publish(*, job_id: str, event_id: str) -> None:
    """One SendMessage: the event `event_id` in the job's outbox is to be handed to delivery."""
    _send(DISPATCH_TASK, [job_id, event_id])


def deliver_publish(*, hook_id: str, event_id: str, delay_seconds: int = 0) -> None:
    """One SendMessage: try the delivery of `event_id` to `hook_id` (after an SQS delay of at most 900 s)."""
    _send(DELIVER_TASK, [hook_id, event_id], delay_seconds=delay_seconds)
