"""A job worker's own delivery worker: a `celery worker -Q webhooks -P threads` child, started, watched and stopped with it.

Webhook sends wait on other people's servers (up to BATCHLAB_WEBHOOK_TIMEOUT_SECONDS
each). In a job worker's prefork slots they would hold jobs back, so a worker
started without -Q consumes the jobs queue only, and (BATCHLAB_WEBHOOK_WORKER=1,
the default) runs a second Celery worker as its child: a pool of
BATCHLAB_WEBHOOK_CONCURRENCY threads on the webhooks queue, whose messages wait
in SQS until a thread is free. The child is started again if it exits, and
stopped (SIGTERM, then SIGKILL) when the worker stops. With
BATCHLAB_WEBHOOK_WORKER=0 nothing is started: run `celery -A batchlab worker -Q
webhooks -P threads -c 16` yourself, on any machines.
"""

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading

from celery.signals import celeryd_init, worker_ready, worker_shutdown
from django.conf import settings

logger = logging.getLogger(__name__)

_state: dict = {"wanted": False, "proc": None, "stop": threading.Event(), "thread": None, "name": ""}


@celeryd_init.connect
def _jobs_only(sender=None, instance=None, conf=None, options=None, **kwargs):
    """A worker given no -Q consumes the jobs queue only (not the webhooks queue) and brings its delivery worker."""
    options = options or {}
    if options.get("queues"):
        return  # the queues were chosen on the command line: that choice stands
    instance.app.amqp.queues.deselect([settings.BATCHLAB_WEBHOOK_QUEUE_NAME])
    _state["wanted"] = bool(settings.BATCHLAB_WEBHOOK_WORKER)
    _state["name"] = str(sender or "worker")


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def command(name: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "batchlab", "worker", "-Q", settings.BATCHLAB_WEBHOOK_QUEUE_NAME,
        "-P", "threads", "-c", str(settings.BATCHLAB_WEBHOOK_CONCURRENCY), "-n", f"deliveries-{name}@%h",
        "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]


def _supervise(name: str) -> None:
    env = {**os.environ, "BATCHLAB_WORKER_METRICS_PORT": "0"}  # its samples reach the parent's endpoint (same multiprocess dir)
    stop = _state["stop"]
    while not stop.is_set():
        proc = subprocess.Popen(command(name), env=env, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        _state["proc"] = proc
        logger.info("delivery worker started: pid %s (%s threads on the %s queue)", proc.pid,
                    settings.BATCHLAB_WEBHOOK_CONCURRENCY, settings.BATCHLAB_WEBHOOK_QUEUE_NAME)
        code = proc.wait()
        if not stop.is_set():
            logger.warning("delivery worker pid %s exited with %s; starting it again", proc.pid, code)
            stop.wait(1.0)


@worker_ready.connect
def _start(**kwargs):
    if not _state["wanted"] or _state["thread"] is not None:
        return
    thread = threading.Thread(target=_supervise, args=(_state["name"].split("@")[0],), name="delivery-worker", daemon=True)
    _state["thread"] = thread
    thread.start()


@worker_shutdown.connect
def _stop(**kwargs):
    _state["stop"].set()
    proc = _state["proc"]
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()  # a warm shutdown: the sends in flight finish (each within the timeout)
    try:
        proc.wait(timeout=settings.BATCHLAB_WEBHOOK_TIMEOUT_SECONDS + 5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
