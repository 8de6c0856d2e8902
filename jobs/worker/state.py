"""This worker process's own state: when it started and when its last SQS receive succeeded.

Kept in the Celery main process, where kombu's consumer long-polls SQS
(batchlab.celery records each ReceiveMessage outcome here). The heartbeat
writes it to the workers table; a watchdog can ask `seconds_since_receive()`.
An idle worker's long poll answers every 20 s (ReceiveMessageWaitTimeSeconds), so
up to ~20 s between successful receives is normal; much more means the consumer
is stuck (or SQS unreachable: then `receive_failures` grows).
Pure bookkeeping: no I/O, nothing of ours imported.
"""

import threading
import time

_lock = threading.Lock()
_started_at = time.time()
_last_receive_at: float | None = None  # epoch seconds, for people and the workers table
_last_receive_monotonic: float | None = None  # for ages: immune to clock steps
_receive_failures = 0
_last_job_at: float | None = None  # epoch seconds: the last message handed to the pool


def receive_succeeded() -> None:
    """A ReceiveMessage answered (with messages or, after the long poll, none)."""
    global _last_receive_at, _last_receive_monotonic
    with _lock:
        _last_receive_at, _last_receive_monotonic = time.time(), time.monotonic()


def receive_failed() -> None:
    """A ReceiveMessage failed (connection error, 5xx, timeout): the consumer polls again."""
    global _receive_failures
    with _lock:
        _receive_failures += 1


def job_received() -> None:
    """The consumer took a job message off the queue."""
    global _last_job_at
    with _lock:
        _last_job_at = time.time()


def seconds_since_receive() -> float | None:
    """Seconds since the last successful receive; None if there was none yet in this process."""
    with _lock:
        return None if _last_receive_monotonic is None else time.monotonic() - _last_receive_monotonic


def seconds_since_start() -> float:
    return time.time() - _started_at


def snapshot() -> dict:
    """{started_at, last_receive_at, last_job_at (epoch seconds or None), receive_failures}."""
    with _lock:
        return {"started_at": _started_at, "last_receive_at": _last_receive_at, "last_job_at": _last_job_at,
                "receive_failures": _receive_failures}
