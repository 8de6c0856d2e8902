"""The benchmark's baseline: a bare Celery app with a no-op task, on BatchLab's own broker and consumer options.

`celery -A devstack.bare_app worker` runs it without Django (the benchmark unsets
DJANGO_SETTINGS_MODULE, so Celery's Django fixup stays off); the endpoint, region
and concurrency come from the same variables BatchLab reads. Its queue is
`<prefix>bare-noop` on the same SQS server. With BATCHLAB_AWS_METER_DIR set it
counts its AWS requests like BatchLab's processes do.
"""

import os

from celery import Celery

from batchlab import awsmeter
from batchlab.celery_options import CONSUMER_OPTIONS, DEFAULT_POLLING_INTERVAL, broker_url, transport_options

from devstack.bare_names import CELERY_QUEUE as QUEUE
from devstack.bare_names import CELERY_TASK as TASK

if os.environ.get("BATCHLAB_AWS_METER_DIR"):
    awsmeter.install(os.environ["BATCHLAB_AWS_METER_DIR"])

_endpoint = os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL") or None
app = Celery("bare")
app.conf.update(
    broker_url=broker_url(_endpoint),
    broker_transport_options=transport_options(
        region=os.environ.get("AWS_REGION", "us-east-1"),
        queue_name_prefix=os.environ.get("BATCHLAB_QUEUE_PREFIX", "batchlab-"),
        visibility_timeout=int(os.environ.get("BATCHLAB_VISIBILITY_TIMEOUT", "900")),
        polling_interval=float(os.environ.get("BATCHLAB_SQS_POLLING_INTERVAL") or DEFAULT_POLLING_INTERVAL),
        endpoint=_endpoint,
    ),
    **CONSUMER_OPTIONS,
    task_default_queue=QUEUE,
    worker_concurrency=int(os.environ.get("BATCHLAB_WORKER_CONCURRENCY", "1")),
)


@app.task(name=TASK, ignore_result=True, acks_late=True)
def noop(job_id: str) -> None:
    """Takes an id like process_job and does nothing with it."""
