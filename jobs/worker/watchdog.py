"""The worker's receive watchdog: a consumer with no successful SQS receive for too long is stuck; stop it.

kombu's SQS consumer long-polls (20 s at most per receive). A socket that
stalls with no reset, or an event loop that wedged, leaves a worker that looks
alive and takes nothing. This thread in the Celery main process reads
jobs.worker.state (the last successful receive, also in the heartbeat and the
worker's metrics) and, past BATCHLAB_RECEIVE_WATCHDOG_SECONDS of silence while
idle, sends the worker a SIGTERM: a warm shutdown, after which its supervisor
(systemd, Kubernetes, `make run`'s launcher) starts it again. While jobs run or
wait in the worker, a full prefetch means the consumer does not poll: that time
does not count.
"""

import logging
import os
import signal
import threading
import time

from celery.signals import worker_ready
from celery.worker import state as pool_state
from django.conf import settings

from jobs.worker import state as worker_state

logger = logging.getLogger(__name__)


def receive_silence(*, busy_until: float) -> float:
    """Seconds the consumer has been idle with no successful receive (monotonic clock)."""
    since = worker_state.seconds_since_receive()
    if since is None:
        since = worker_state.seconds_since_start()
    return min(since, time.monotonic() - busy_until)


def watch(*, limit: float, interval: float, stop: threading.Event, on_stuck) -> None:
    busy_until = time.monotonic()
    while not stop.wait(interval):
        if pool_state.reserved_requests:
            busy_until = time.monotonic()
            continue
        silence = receive_silence(busy_until=busy_until)
        if silence > limit:
            logger.error("no successful SQS receive for %.0f s (limit %s s): the consumer is stuck; "
                         "stopping this worker so that its supervisor starts it again", silence, limit)
            on_stuck()
            return


def _terminate_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


@worker_ready.connect
def _start_watchdog(**kwargs):
    limit = settings.BATCHLAB_RECEIVE_WATCHDOG_SECONDS
    if not limit:
        return
    thread = threading.Thread(target=watch, name="receive-watchdog", daemon=True, kwargs={
        "limit": limit, "interval": min(5.0, limit / 4), "stop": threading.Event(), "on_stuck": _terminate_self})
    thread.start()
    logger.info("receive watchdog: a worker idle with no successful SQS receive for %s s stops", limit)
