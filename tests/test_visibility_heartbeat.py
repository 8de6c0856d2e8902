"""The visibility heartbeat keeps a running job's message hidden past the queue's visibility timeout."""

import threading
import time
from types import SimpleNamespace

import pytest
from celery.worker import state as pool_state

from jobs import queues
from jobs.worker import visibility as visibility_heartbeat

pytestmark = pytest.mark.usefixtures("aws")


def receive(url: str, visibility: int) -> list:
    return queues.sqs_client().receive_message(QueueUrl=url, VisibilityTimeout=visibility, WaitTimeSeconds=0).get("Messages", [])


def test_the_message_of_a_running_job_is_not_delivered_again_while_the_heartbeat_beats(monkeypatch):
    client = queues.sqs_client()
    url = client.get_queue_url(QueueName=queues.queue_name())["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="job")
    [message] = receive(url, visibility=1)
    running = SimpleNamespace(message=SimpleNamespace(delivery_info={"sqs_message": message, "sqs_queue": url}))
    monkeypatch.setattr(pool_state, "active_requests", [running])
    assert visibility_heartbeat.running_receipts() == [(url, message["ReceiptHandle"])]

    stop = threading.Event()
    thread = threading.Thread(target=visibility_heartbeat.beat, kwargs={"seconds": 1, "interval": 0.3, "stop": stop})
    thread.start()
    try:
        time.sleep(2.5)  # 2.5 visibility timeouts
        assert receive(url, visibility=1) == []  # still hidden: the heartbeat extended it
    finally:
        stop.set()
        thread.join(timeout=5)
    time.sleep(1.5)
    assert len(receive(url, visibility=30)) == 1  # without beats it comes back, as before
