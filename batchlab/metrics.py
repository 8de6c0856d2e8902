"""What /metrics serves: this machine's job counters and histograms, and store/queue/worker gauges read at scrape time.

Counters and histograms (jobs.metrics) come from every web process: summed over
PROMETHEUS_MULTIPROC_DIR when set (gunicorn runs several processes), else this
process's own. The gauges cost DynamoDB and SQS requests, so one snapshot is
reused for BATCHLAB_METRICS_CACHE_SECONDS; a backend that does not answer
shows as batchlab_backend_up 0 and its gauges are left out.
"""

import os
import threading
import time

from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from jobs import selectors

_lock = threading.Lock()
_snapshot: dict = {"at": None, "value": None}


def _read_backends() -> dict:
    out: dict = {"up": {}}
    for backend, reads in (
        ("dynamodb", {"jobs": selectors.job_unfinished_counts, "oldest_queued": selectors.oldest_queued_age,
                      "workers": selectors.workers_count,
                      "schedules": lambda: selectors.schedule_counters(now=time.time()),
                      "flow": selectors.flow_unit_counts}),
        ("sqs", {"queues": selectors.queue_counts, "oldest_dead_letter": selectors.dlq_oldest_age}),
        # Webhooks: unfinished deliveries (a COUNT of the sparse due index) and the webhooks queue's depth.
        ("webhooks", {"webhooks": selectors.webhooks_backlog}),
    ):
        try:
            values = {name: read() for name, read in reads.items()}
        except Exception:
            out["up"][backend] = 0
            continue
        out["up"][backend] = 1
        out.update(values)
    return out


def backends_snapshot() -> dict:
    """The scrape-time figures, read at most once per BATCHLAB_METRICS_CACHE_SECONDS per process."""
    ttl = settings.BATCHLAB_METRICS_CACHE_SECONDS
    with _lock:
        if _snapshot["at"] is not None and time.monotonic() - _snapshot["at"] < ttl:
            return _snapshot["value"]
        _snapshot.update(at=time.monotonic(), value=_read_backends())
        return _snapshot["value"]


class BackendCollector:
    def collect(self):
        snap = backends_snapshot()
        up = GaugeMetricFamily("batchlab_backend_up", "Whether a backend answered the last read", labels=["backend"])
        for backend, value in snap["up"].items():
            up.add_metric([backend], value)
        yield up
        if "jobs" in snap:
            jobs = GaugeMetricFamily("batchlab_jobs", "Unfinished jobs stored, by status (final ones: see the job counters)", labels=["status"])
            for status, count in snap["jobs"].items():
                jobs.add_metric([status], count)
            yield jobs
            workers = GaugeMetricFamily("batchlab_workers", "Workers with a heartbeat record, alive or stale", labels=["state"])
            for state, count in snap["workers"].items():
                workers.add_metric([state], count)
            yield workers
            counters = snap["schedules"]
            schedules = GaugeMetricFamily("batchlab_schedules", "Schedules: active, paused, and due now (active with a"
                                          " due time passed; more than briefly means no scheduler runs)", labels=["state"])
            for state in ("active", "paused", "due"):
                schedules.add_metric([state], counters[f"schedules_{state}"])
            yield schedules
            runs = GaugeMetricFamily("batchlab_schedule_runs", "Due times of the existing schedules, by outcome: fired,"
                                     " skipped (overlap policy) or missed (no scheduler ran)", labels=["outcome"])
            for outcome in ("fired", "skipped", "missed"):
                runs.add_metric([outcome], counters[outcome])
            yield runs
            running = GaugeMetricFamily("batchlab_jobs_running", "Jobs PROCESSING, by type (an item job counts once)",
                                        labels=["type"])
            for type, count in sorted(snap["flow"]["running"].items()):
                running.add_metric([type], count)
            yield running
            waiting = GaugeMetricFamily("batchlab_jobs_waiting", "Units held back by flow control (QUEUED jobs, PENDING"
                                        " chunks), by type and why (paused, concurrency_limit, rate_limit)",
                                        labels=["type", "reason"])
            for (type, reason), count in sorted(snap["flow"]["waiting"].items()):
                waiting.add_metric([type, reason], count)
            yield waiting
        if "queues" in snap:
            messages = GaugeMetricFamily("batchlab_queue_messages", "Approximate SQS messages (visible, in_flight, delayed)",
                                         labels=["queue", "state"])
            for queue in ("queue", "dead_letter"):  # the three priorities together
                for state, value in snap["queues"][queue].items():
                    messages.add_metric([queue, state], value)
            yield messages
            by_priority = GaugeMetricFamily("batchlab_priority_queue_messages", "Approximate SQS messages of each"
                                            " priority's queue and dead-letter queue", labels=["priority", "queue", "state"])
            for priority, both in snap["queues"].get("priorities", {}).items():
                for queue, counts in both.items():
                    for state, value in counts.items():
                        by_priority.add_metric([priority, queue, state], value)
            yield by_priority
        if "webhooks" in snap:
            backlog = GaugeMetricFamily("batchlab_webhook_backlog", "Webhook deliveries not finished (pending or sending),"
                                        " and the webhooks queue's messages", labels=["what"])
            backlog.add_metric(["unfinished_deliveries"], snap["webhooks"]["unfinished"])
            for state, value in snap["webhooks"]["queue"].items():
                backlog.add_metric([f"queue_{state}"], value)
            yield backlog
        oldest = GaugeMetricFamily(
            "batchlab_queue_oldest_age_seconds",
            "Age of the oldest waiting message: queue = the longest-due QUEUED job, dead_letter = oldest sampled dead letter",
            labels=["queue"],
        )
        if "oldest_queued" in snap:
            oldest.add_metric(["queue"], snap["oldest_queued"])
        if "oldest_dead_letter" in snap:
            oldest.add_metric(["dead_letter"], snap["oldest_dead_letter"])
        yield oldest


_backend_registry = CollectorRegistry()
_backend_registry.register(BackendCollector())


def render() -> tuple[str, bytes]:
    """(content type, body) for /metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    return CONTENT_TYPE_LATEST, generate_latest(processes) + generate_latest(_backend_registry)
