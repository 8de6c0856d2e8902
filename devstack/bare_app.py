"""The benchmark's baseline: a bare Celery app with a no-op task, on BatchLab's own broker and consumer options.

`celery -A devstack.bare_app worker` runs it without Django (the benchmark unsets
DJANGO_SETTINGS_MODULE, so Celery's Django fixup stays off); the endpoint, region
and concurrency come from the same variables BatchLab reads. Its queue is
`<prefix>bare-noop` on the same SQS server. With BATCHLAB_AWS_METER_DIR set it
counts its AWS requests like BatchLab's processes do.
"""

from celery import Celery

from devstack.bare_names import CELERY_QUEUE as QUEUE
from devstack.bare_names import CELERY_TASK as TASK
from devstack.baseline_conf import baseline_conf

app = Celery("bare")
app.conf.update(baseline_conf(QUEUE))


@app.task(name=TASK, ignore_result=True, acks_late=True)
def noop(job_id: str) -> None:
    """Takes an id like process_job and does nothing with it."""
