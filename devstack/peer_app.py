"""The benchmark's peer: what a team would build instead of BatchLab, Celery over SQS with Celery's DynamoDB result backend.

A Celery app on BatchLab's own broker and consumer options, but keeping results:
`result_backend` is Celery's `dynamodb://` backend on the same moto DynamoDB
(`dynamodb_endpoint_url`), `task_track_started=True` (the state stored at the
start and at the end, each a GetItem and an unconditional PutItem), and one task,
`peer.echo`, that returns its payload as BatchLab's `echo` does. `celery -A
devstack.peer_app worker` runs it without Django; devstack.peer_web submits to
it. Its queue is `<prefix>peer-echo` on the same SQS server. With
BATCHLAB_AWS_METER_DIR set it counts its AWS requests like BatchLab's processes.
"""

import os

from celery import Celery

from devstack.bare_names import PEER_QUEUE as QUEUE
from devstack.bare_names import PEER_TABLE, PEER_TASK
from devstack.baseline_conf import baseline_conf

_region = os.environ.get("AWS_REGION", "us-east-1")
app = Celery("peer")
app.conf.update(baseline_conf(QUEUE))
# What the peer keeps that the no-op floor does not (after CONSUMER_OPTIONS, which turn results off).
app.conf.update(
    task_ignore_result=False,
    # Credentials and region in the URL; the endpoint is the embedded DynamoDB (read by the backend itself).
    result_backend=f"dynamodb://{os.environ.get('AWS_ACCESS_KEY_ID', 'testing')}:"
                   f"{os.environ.get('AWS_SECRET_ACCESS_KEY', 'testing')}@{_region}/{PEER_TABLE}",
    dynamodb_endpoint_url=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or None,
    task_track_started=True,
)


@app.task(name=PEER_TASK, acks_late=True)
def echo(payload: dict) -> dict:
    """Returns its payload, as BatchLab's `echo` handler does."""
    return payload
