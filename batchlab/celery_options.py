"""The broker and consumer options BatchLab's Celery app runs with, without Django.

batchlab.celery builds its config from these; the benchmark's bare Celery app
(devstack/bare_app.py) uses the very same ones, so that the two differ only in
what a task does.
https://docs.celeryq.dev/en/stable/userguide/configuration.html
"""

import os
from urllib.parse import quote, urlsplit

# kombu's polling_interval (BATCHLAB_SQS_POLLING_INTERVAL): see transport_options.
DEFAULT_POLLING_INTERVAL = 0.02


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


def transport_options(
    *, region: str, queue_name_prefix: str, visibility_timeout: int, polling_interval: float, endpoint: str | None
) -> dict:
    """kombu's SQS transport options (every key is one kombu reads; a unit test checks)."""
    options = {
        "region": region,
        "queue_name_prefix": queue_name_prefix,
        # Must exceed the longest job (checked in settings), else a running job's
        # message becomes visible again and is delivered to a second worker.
        "visibility_timeout": visibility_timeout,
        # Long polling: one ReceiveMessage waits up to 20 s for work, so an idle
        # consumer makes at most 3 requests a minute.
        "wait_time_seconds": 20,
        # After an empty long poll, and while every slot is busy, the consumer
        # looks again after this many seconds. So it is also how late a worker
        # that just finished a job asks for the next one: at 1 s (kombu's
        # default) one process never ran more than ~1 job/s, at 0.1 s ~9. At
        # 0.02 s the drain of one worker x 1 went 7.7 -> 13.3 jobs/s, 2 x 1
        # 9.5 -> 28.3, with no more CPU per job (a busy process looks 50 times
        # a second, without a request) and the same idle requests
        # (docs/benchmark.md, BATCHLAB_SQS_POLLING_INTERVAL).
        "polling_interval": polling_interval,
        # botocore's defaults (60 s timeouts, several retries) would hold a POST for
        # minutes when SQS is unreachable; fail fast and let recovery republish.
        # The read timeout must exceed the 20 s long poll.
        "client-config": {"connect_timeout": 3, "read_timeout": 30, "retries": {"max_attempts": 2}},
    }
    if endpoint:
        options["is_secure"] = endpoint.startswith("https")
    return options


# How a worker consumes, shared with the bare baseline.
CONSUMER_OPTIONS = {
    "broker_connection_retry_on_startup": True,
    # State lives in DynamoDB; Celery results would only cost requests.
    "task_ignore_result": True,
    "result_backend": None,
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": ["json"],
    # At-least-once: ack after the task ran, and give a killed child's message back.
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    # One message per free slot; scale with BATCHLAB_WORKER_CONCURRENCY and processes.
    "worker_prefetch_multiplier": 1,
    # SQS cannot carry remote control or events; left on they create pidbox queues.
    "worker_enable_remote_control": False,
    "worker_send_task_events": False,
    "task_send_sent_event": False,
    "worker_hijack_root_logger": False,
    "worker_redirect_stdouts": False,
}
