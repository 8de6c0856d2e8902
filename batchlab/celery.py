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
from urllib.parse import quote, urlsplit

from celery import Celery
from celery.signals import worker_shutting_down
from kombu.asynchronous.aws.sqs.connection import AsyncSQSConnection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "batchlab.settings")

from django.conf import settings  # noqa: E402  (needs DJANGO_SETTINGS_MODULE)

from batchlab import awsmeter  # noqa: E402
from jobs import worker_state  # noqa: E402  (pure bookkeeping, no Django models)

logger = logging.getLogger(__name__)

if settings.BATCHLAB_AWS_METER_DIR:
    # Before any AWS client exists (web and worker both import this module at start-up).
    awsmeter.install(settings.BATCHLAB_AWS_METER_DIR)


def broker_url(endpoint: str | None) -> str:
    """`sqs://` for real AWS; `sqs://KEY:SECRET@host:port` for a local endpoint.

    kombu derives the SQS endpoint from the URL's host and port (and uses
    `is_secure` from the transport options to choose http or https).
    """
    if not endpoint:
        return "sqs://"
    parts = urlsplit(endpoint)
    key = quote(os.environ.get("AWS_ACCESS_KEY_ID", "testing"), safe="")
    secret = quote(os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"), safe="")
    return f"sqs://{key}:{secret}@{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


_endpoint = settings.AWS_ENDPOINT_URL_SQS
_transport_options = {
    "region": settings.AWS_REGION,
    "queue_name_prefix": settings.BATCHLAB_QUEUE_PREFIX,
    # Must exceed the longest job (checked in settings), else a running job's
    # message becomes visible again and is delivered to a second worker.
    "visibility_timeout": settings.BATCHLAB_VISIBILITY_TIMEOUT,
    # Long polling: one ReceiveMessage waits up to 20 s for work.
    "wait_time_seconds": 20,
    # Seconds before the consumer looks again after an empty or skipped poll.
    # An empty receive already waits 20 s (long polling), so this only sets how
    # soon a worker that just finished a job takes the next one: at 1 s (kombu's
    # default) one process never ran more than ~1 job/s (docs/benchmark.md).
    "polling_interval": 0.1,
    # botocore's defaults (60 s timeouts, several retries) would hold a POST for
    # minutes when SQS is unreachable; fail fast and let recovery republish.
    # The read timeout must exceed the 20 s long poll.
    "client-config": {"connect_timeout": 3, "read_timeout": 30, "retries": {"max_attempts": 2}},
}
if _endpoint:
    _transport_options["is_secure"] = _endpoint.startswith("https")

CELERY_CONFIG = {
    "broker_url": broker_url(_endpoint),
    "broker_transport_options": _transport_options,
    "broker_connection_retry_on_startup": True,
    "task_default_queue": settings.BATCHLAB_QUEUE_NAME,
    "task_create_missing_queues": False,
    # State lives in DynamoDB; Celery results would only cost requests.
    "task_ignore_result": True,
    "result_backend": None,
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    # At-least-once: ack after the task ran, and give a killed child's message back.
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    # One job at a time per process; scale by running more processes.
    "worker_prefetch_multiplier": 1,
    "worker_concurrency": settings.BATCHLAB_WORKER_CONCURRENCY,
    # Hard limit: the child is killed; the claim fences its late writes out.
    "task_time_limit": settings.BATCHLAB_MAX_JOB_SECONDS + settings.BATCHLAB_HARD_LIMIT_MARGIN,
    "task_soft_time_limit": settings.BATCHLAB_MAX_JOB_SECONDS,
    # SQS cannot carry remote control or events; left on they create pidbox queues.
    "worker_enable_remote_control": False,
    "worker_send_task_events": False,
    "task_send_sent_event": False,
    "worker_hijack_root_logger": False,
    "worker_redirect_stdouts": False,
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
    Other operations are unchanged. Each outcome is recorded in jobs.worker_state
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
