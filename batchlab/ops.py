"""Operational endpoints: /healthz (can we reach the store and the queue?) and /metrics (Prometheus)."""

import logging
import time

from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from jobs import selectors

logger = logging.getLogger(__name__)


def healthz(request):
    checks, ok = {}, True
    # Cheap probes (one request each): a health check runs often.
    for name, probe in (("dynamodb", selectors.store_ping), ("sqs", selectors.queue_counts)):
        started = time.monotonic()
        try:
            probe()
            checks[name] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
        except Exception as exc:
            ok = False
            checks[name] = {"ok": False, "error": exc.__class__.__name__}
    return JsonResponse({"status": "ok" if ok else "degraded", "checks": checks}, status=200 if ok else 503)


def metrics(request):
    """Gauges read at scrape time: jobs per status and messages per queue."""
    registry = CollectorRegistry()
    jobs = Gauge("batchlab_jobs", "Jobs stored, by status", ["status"], registry=registry)
    messages = Gauge("batchlab_queue_messages", "Approximate SQS messages", ["queue", "state"], registry=registry)
    up = Gauge("batchlab_backend_up", "Whether a backend answered this scrape", ["backend"], registry=registry)
    try:
        for status, count in selectors.job_status_counts().items():
            jobs.labels(status=status).set(count)
        up.labels(backend="dynamodb").set(1)
    except Exception:
        up.labels(backend="dynamodb").set(0)
    try:
        for queue, counts in selectors.queue_counts().items():
            for state, value in counts.items():
                messages.labels(queue=queue, state=state).set(value)
        up.labels(backend="sqs").set(1)
    except Exception:
        up.labels(backend="sqs").set(0)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
