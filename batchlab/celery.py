"""The Celery app: Celery over Amazon SQS (kombu's SQS transport), configured in one place.

Every key in `CELERY_CONFIG` is a documented Celery setting name; a unit test checks
each against Celery's own table, because Celery ignores unknown names silently.
https://docs.celeryq.dev/en/stable/userguide/configuration.html
"""

import logging
import os
import signal
import threading
import time

from celery import Celery
from celery.signals import worker_shutting_down
from kombu import Queue
from kombu.asynchronous.aws.sqs.connection import AsyncSQSConnection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "batchlab.settings")

from django.conf import settings  # noqa: E402  (needs DJANGO_SETTINGS_MODULE)

from batchlab import awsmeter  # noqa: E402
from batchlab.celery_options import CONSUMER_OPTIONS, broker_url, transport_options  # noqa: E402,F401
from jobs.flow import PRIORITIES, queue_suffix  # noqa: E402  (pure)
from jobs.worker import state as worker_state  # noqa: E402  (pure bookkeeping, no Django models)

logger = logging.getLogger(__name__)

if settings.BATCHLAB_AWS_METER_DIR:
    # Before any AWS client exists (web and worker both import this module at start-up).
    awsmeter.install(settings.BATCHLAB_AWS_METER_DIR)


_endpoint = settings.AWS_ENDPOINT_URL_SQS

CELERY_CONFIG = {
    "broker_url": broker_url(_endpoint),
    # kombu's SQS transport with a channel that takes from the priority queues by
    # weight and never waits on an empty one (batchlab/sqs_priority.py says how and why).
    "broker_transport": "batchlab.sqs_priority:Transport" if settings.BATCHLAB_SQS_WEIGHTED else "sqs",
    "broker_transport_options": transport_options(
        region=settings.AWS_REGION,
        queue_name_prefix=settings.BATCHLAB_QUEUE_PREFIX,
        visibility_timeout=settings.BATCHLAB_VISIBILITY_TIMEOUT,
        polling_interval=settings.BATCHLAB_SQS_POLLING_INTERVAL,
        endpoint=_endpoint,
    ),
    **CONSUMER_OPTIONS,
    "task_default_queue": settings.BATCHLAB_QUEUE_NAME,
    # One queue per priority (`<prefix>jobs-high`, `<prefix>jobs`, `<prefix>jobs-low`): a
    # worker consumes all three; publishing picks one by the job's priority. And
    # `<prefix>webhooks`: a worker started without -Q consumes the job queues only and
    # starts a delivery worker of its own for it (jobs.worker.deliveries), so that a
    # slow receiver never holds a job's slot.
    "task_queues": [Queue(queue_suffix(p)) for p in PRIORITIES] + [Queue(settings.BATCHLAB_WEBHOOK_QUEUE_NAME)],
    "task_routes": {"webhooks.*": {"queue": settings.BATCHLAB_WEBHOOK_QUEUE_NAME}},
    "task_create_missing_queues": False,
    "worker_concurrency": settings.BATCHLAB_WORKER_CONCURRENCY,
    # Hard limit: the child is killed; the claim fences its late writes out.
    "task_time_limit": settings.BATCHLAB_MAX_JOB_SECONDS + settings.BATCHLAB_HARD_LIMIT_MARGIN,
    "task_soft_time_limit": settings.BATCHLAB_MAX_JOB_SECONDS,
}


def _failed_long_poll_is_empty(on_list_ready):
    """kombu 5.7: a failed long poll killed every worker; make it an empty poll instead.

    kombu's async SQS client turns a ReceiveMessage that failed at the HTTP
    level (connection refused or reset, timeout: curl's 599; 500/502/503/504)
    into `[]`, and the SQS channel then calls `[].get("Messages")`: an
    AttributeError that stops the worker ("Unrecoverable error"). Any other
    failure (a 4xx, e.g. the queue missing while it is being re-created, or
    throttling) is raised and stops the worker the same way. Seen when the SQS
    endpoint went away for a few seconds: both workers exited. As an empty
    poll, the channel polls again after `polling_interval`, so the worker rides
    out the outage (at ~10 failed polls a second; logged every 5 s at most).
    Other operations are unchanged. Each outcome is recorded in jobs.worker.state
    (the heartbeat's "last successful receive").
    """
    state = {"failed": 0, "logged_at": 0.0}

    def failed(reason: str) -> dict:
        state["failed"] += 1
        worker_state.receive_failed()
        if time.monotonic() - state["logged_at"] >= 5:
            logger.warning("SQS long poll failed (%s failures so far): %s; polling again", state["failed"], reason[:300])
            state["logged_at"] = time.monotonic()
        return {}

    def wrapper(self, parent, markers, operation, response):
        if operation != "ReceiveMessage":
            return on_list_ready(self, parent, markers, operation, response)
        try:
            result = on_list_ready(self, parent, markers, operation, response)
        except Exception as exc:
            return failed(str(exc))
        if not isinstance(result, dict):
            return failed(f"HTTP {response.status} {response.reason}")
        worker_state.receive_succeeded()
        return result

    wrapper.__wrapped__ = on_list_ready
    return wrapper


AsyncSQSConnection._on_list_ready = _failed_long_poll_is_empty(AsyncSQSConnection._on_list_ready)

app = Celery("batchlab")


@worker_shutting_down.connect
def _bound_warm_shutdown(sig=None, how=None, exitcode=None, **kwargs):
    """Give a running job BATCHLAB_SHUTDOWN_GRACE_SECONDS to finish after SIGTERM.

    Past that, a cold shutdown: the job's message is not acknowledged, so SQS
    delivers it again after the visibility timeout and the expired lease lets
    another worker claim it. Nothing is lost either way.
    """
    grace = settings.BATCHLAB_SHUTDOWN_GRACE_SECONDS

    def give_up():
        logger.warning("shutdown grace of %s s is over; stopping now, the running job will be redelivered", grace)
        os.kill(os.getpid(), signal.SIGQUIT)

    timer = threading.Timer(grace, give_up)
    timer.daemon = True
    timer.start()

app.conf.update(CELERY_CONFIG)
app.autodiscover_tasks(["jobs"])
