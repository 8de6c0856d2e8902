"""The Celery configuration both baselines (the no-op floor, the peer) share with BatchLab: its broker and consumer options, read from the same variables."""

import os

from batchlab import awsmeter
from batchlab.celery_options import CONSUMER_OPTIONS, DEFAULT_POLLING_INTERVAL, broker_url, transport_options


def baseline_conf(queue: str) -> dict:
    """app.conf of a baseline whose tasks go to `queue` (after the queue prefix); counts its AWS requests
    in BATCHLAB_AWS_METER_DIR when set, as BatchLab's processes do."""
    if os.environ.get("BATCHLAB_AWS_METER_DIR"):
        awsmeter.install(os.environ["BATCHLAB_AWS_METER_DIR"])
    endpoint = os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL") or None
    return {
        "broker_url": broker_url(endpoint),
        "broker_transport_options": transport_options(
            region=os.environ.get("AWS_REGION", "us-east-1"),
            queue_name_prefix=os.environ.get("BATCHLAB_QUEUE_PREFIX", "batchlab-"),
            visibility_timeout=int(os.environ.get("BATCHLAB_VISIBILITY_TIMEOUT", "900")),
            polling_interval=float(os.environ.get("BATCHLAB_SQS_POLLING_INTERVAL") or DEFAULT_POLLING_INTERVAL),
            endpoint=endpoint,
        ),
        **CONSUMER_OPTIONS,
        "task_default_queue": queue,
        "worker_concurrency": int(os.environ.get("BATCHLAB_WORKER_CONCURRENCY", "1")),
    }
