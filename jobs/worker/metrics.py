"""A worker's own Prometheus endpoint, served by the Celery main process and summing its prefork children.

Jobs run in prefork children, and a child's in-memory counters are invisible
to every other process (and lost when it is replaced). prometheus-client's
multiprocess mode writes each process's samples to files in
PROMETHEUS_MULTIPROC_DIR; here the main process serves their sum on
BATCHLAB_WORKER_METRICS_PORT, with live gauges of its own. One endpoint per
worker, not one for all: workers run on other machines than the web servers,
and Prometheus finds each worker the way it finds any other target.
"""

import logging
import os

from celery.signals import worker_ready
from celery.worker import state as pool_state
from django.conf import settings
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from jobs.worker import state as worker_state
from jobs.services import PROCESS_JOB_TASK

logger = logging.getLogger(__name__)


class WorkerCollector:
    """Gauges read at scrape time from the main process: running jobs, last receive, start."""

    def collect(self):
        running = [r for r in list(pool_state.active_requests) if r.name == PROCESS_JOB_TASK]
        yield GaugeMetricFamily("batchlab_worker_jobs_running", "Jobs this worker's pool runs now", value=len(running))
        since = worker_state.seconds_since_receive()
        yield GaugeMetricFamily(
            "batchlab_worker_seconds_since_receive",
            "Seconds since this worker's last successful SQS receive (-1: none yet)", value=-1 if since is None else since,
        )
        yield GaugeMetricFamily("batchlab_worker_receive_failures", "Failed SQS receives since start",
                                value=worker_state.snapshot()["receive_failures"])
        yield GaugeMetricFamily("batchlab_worker_start_time_seconds", "When this worker started (epoch seconds)",
                                value=worker_state.snapshot()["started_at"])


def worker_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    registry.register(WorkerCollector())
    return registry


@worker_ready.connect
def _serve_worker_metrics(**kwargs):
    port = settings.BATCHLAB_WORKER_METRICS_PORT
    if not port:
        return
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        logger.warning("PROMETHEUS_MULTIPROC_DIR is not set: the job metrics of the prefork children cannot be "
                       "collected; only the main process's gauges are served")
    server, _ = start_http_server(port, addr=settings.BATCHLAB_WORKER_METRICS_HOST, registry=worker_registry())
    logger.info("worker metrics on http://%s:%s/metrics", settings.BATCHLAB_WORKER_METRICS_HOST, server.server_port)
