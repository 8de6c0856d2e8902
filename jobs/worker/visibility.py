"""The visibility heartbeat: a thread in the Celery main process keeps running jobs' messages hidden.

Every third of BATCHLAB_VISIBILITY_TIMEOUT it extends, by the whole timeout,
the SQS message of each job the pool runs (celery.worker.state.active_requests;
kombu's SQS transport keeps the receipt handle in the message's delivery info).
A job may then run longer than the visibility timeout without its message being
delivered again, and the timeout can be short, so that the message of a worker
that died comes back soon. The claim's fencing still guards the job if a beat
is missed. Off with BATCHLAB_VISIBILITY_HEARTBEAT=0.
"""

import logging
import threading

from celery.signals import worker_ready
from celery.worker import state as pool_state
from django.conf import settings

from jobs.services.visibility import messages_keep_invisible

logger = logging.getLogger(__name__)


def running_receipts() -> list[tuple[str, str]]:
    """(queue URL, receipt handle) of every message whose task the pool runs now."""
    receipts = []
    for request in list(pool_state.active_requests):
        info = getattr(getattr(request, "message", None), "delivery_info", None) or {}
        message, queue_url = info.get("sqs_message"), info.get("sqs_queue")
        if message and queue_url and message.get("ReceiptHandle"):
            receipts.append((queue_url, message["ReceiptHandle"]))
    return receipts


def beat(*, seconds: int, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        receipts = running_receipts()
        if receipts:
            messages_keep_invisible(receipts=receipts, seconds=seconds)


@worker_ready.connect
def _start_visibility_heartbeat(**kwargs):
    if not settings.BATCHLAB_VISIBILITY_HEARTBEAT:
        return
    seconds = settings.BATCHLAB_VISIBILITY_TIMEOUT
    interval = max(1.0, seconds / 3)
    threading.Thread(target=beat, name="visibility-heartbeat", daemon=True,
                     kwargs={"seconds": seconds, "interval": interval, "stop": threading.Event()}).start()
    logger.info("visibility heartbeat: running jobs' messages extended by %s s every %.0f s", seconds, interval)
