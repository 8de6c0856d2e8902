"""Operational endpoints: /healthz (liveness), /readyz (readiness: store, queue, workers) and /metrics (Prometheus)."""

import logging
import time

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from batchlab import metrics as batchlab_metrics
from jobs import selectors

logger = logging.getLogger(__name__)


@never_cache
def healthz(request):
    """Liveness: the process answers. No dependency is asked, so a slow DynamoDB never restarts the web servers."""
    return JsonResponse({"status": "ok"})


def _check(probe) -> tuple[dict, object]:
    started = time.monotonic()
    try:
        value = probe()
    except Exception as exc:
        logger.warning("readiness check %s failed: %r", getattr(probe, "__name__", probe), exc)
        return {"ok": False, "ms": round((time.monotonic() - started) * 1000, 1), "error": exc.__class__.__name__}, None
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}, value


@never_cache
def readyz(request):
    """Readiness: the jobs table and the jobs queue answer (503 if either does not), and how many workers are alive.

    Workers do not decide readiness (the API accepts jobs while no worker runs);
    their count is there for people and alarms.
    """
    checks = {}
    checks["dynamodb"], _ = _check(selectors.store_ping)
    checks["sqs"], _ = _check(selectors.queue_ping)
    workers, counts = _check(selectors.workers_count)
    if counts is not None:
        workers.update(counts)
    ready = checks["dynamodb"]["ok"] and checks["sqs"]["ok"]
    body = {"status": "ready" if ready else "not ready", "checks": checks, "workers": workers}
    return JsonResponse(body, status=200 if ready else 503)


@never_cache
def metrics(request):
    """Prometheus text format: this machine's counters and histograms, and gauges read at scrape time."""
    content_type, payload = batchlab_metrics.render()
    return HttpResponse(payload, content_type=content_type)
