"""The worker's heartbeat: a thread in the Celery main process records the worker every few seconds.

Celery's remote control and events (what Flower reads) do not work over SQS,
so each worker writes its own record to DynamoDB: id, host, pid, version,
when it started, the jobs its pool runs now, how many it finished, when it
last took one and when its last SQS receive succeeded (jobs.worker.state).
The main process knows all of it: kombu's consumer receives the messages, and
Celery's worker state (celery.worker.state) tracks what the pool runs.
"""

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

from celery.signals import task_received, worker_ready, worker_shutdown
from celery.worker import state as pool_state
from django.conf import settings

from jobs import services
from jobs.worker import state as worker_state
from jobs.services import PROCESS_JOB_TASK, WorkerBeat

logger = logging.getLogger(__name__)


def _version() -> str:
    try:
        return version("batchlab")
    except PackageNotFoundError:
        return "unknown"


def _when(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


class Heartbeat:
    """Beats at once, then every BATCHLAB_WORKER_HEARTBEAT_SECONDS until stopped; a stop removes the record."""

    def __init__(self, *, name: str, concurrency: int):
        self.name, self.concurrency = name, concurrency
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.interval = settings.BATCHLAB_WORKER_HEARTBEAT_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batchlab-heartbeat", daemon=True)
        self._failing_since: float | None = None

    def beat_now(self) -> WorkerBeat:
        running = [str(r.args[0]) for r in list(pool_state.active_requests)
                   if r.name == PROCESS_JOB_TASK and r.args]
        started = sum(n for task, n in pool_state.total_count.items() if task == PROCESS_JOB_TASK)
        state = worker_state.snapshot()
        beat = WorkerBeat(
            worker_id=self.worker_id, name=self.name, host=socket.gethostname(), pid=os.getpid(),
            version=_version(), concurrency=self.concurrency, started_at=_when(state["started_at"]),
            running=running, jobs_done=max(0, started - len(running)), last_job_at=_when(state["last_job_at"]),
            last_receive_at=_when(state["last_receive_at"]), receive_failures=state["receive_failures"],
        )
        services.worker_heartbeat(beat=beat, interval=self.interval)
        return beat

    def _run(self) -> None:
        while True:
            # Beats start every interval, however long the write takes: a reader
            # judges a worker alive for two intervals after its last beat, and a
            # slow write (a busy DynamoDB) must not use that margin up.
            started = time.monotonic()
            try:
                self.beat_now()
                if self._failing_since is not None:
                    logger.info("heartbeat of %s recorded again", self.worker_id)
                self._failing_since = None
            except Exception as exc:  # the store is down: keep beating, log once per outage
                if self._failing_since is None:
                    logger.warning("heartbeat of %s not recorded (%s); retrying every %s s", self.worker_id, exc, self.interval)
                    self._failing_since = time.monotonic()
            # At least a tenth of an interval between writes, even after one slower than the interval.
            if self._stop.wait(max(0.1 * self.interval, self.interval - (time.monotonic() - started))):
                return

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and remove the record; bounded, so a DynamoDB that hangs never holds up a shutdown."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        retire = threading.Thread(target=self._retire, name="batchlab-heartbeat-retire", daemon=True)
        retire.start()
        retire.join(timeout=3)

    def _retire(self) -> None:
        try:
            services.worker_retire(worker_id=self.worker_id)
        except Exception as exc:
            logger.warning("could not remove the record of %s (%s); it is stale until it expires", self.worker_id, exc)


_heartbeat: Heartbeat | None = None


@worker_ready.connect
def _start_heartbeat(sender=None, **kwargs):
    global _heartbeat
    concurrency = getattr(getattr(sender, "pool", None), "num_processes", None) or settings.BATCHLAB_WORKER_CONCURRENCY
    _heartbeat = Heartbeat(name=getattr(sender, "hostname", None) or socket.gethostname(), concurrency=int(concurrency))
    _heartbeat.start()
    logger.info("heartbeat of %s every %s s", _heartbeat.worker_id, _heartbeat.interval)


@worker_shutdown.connect
def _stop_heartbeat(**kwargs):
    if _heartbeat is not None:
        _heartbeat.stop()


@task_received.connect
def _job_taken(request=None, **kwargs):
    worker_state.job_received()
