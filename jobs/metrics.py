"""Prometheus counters and histograms of the job lifecycle, by job type; pure definitions (prometheus-client).

Counted where the change happens: submissions, user cancels and retries in the
web processes; runs, outcomes and automatic retries in the worker's prefork
children. With PROMETHEUS_MULTIPROC_DIR set, every process writes its samples
to files there and the process that serves them sums them (batchlab.metrics
for the web's /metrics, jobs.worker.metrics for a worker's own endpoint).
Labels are bounded: job types come from the registry, error codes from the code.
"""

import time

from prometheus_client import Counter, Histogram

JOBS_SUBMITTED = Counter("batchlab_jobs_submitted", "Jobs accepted (POST /jobs and other submitters)", ["type"])
JOBS_COMPLETED = Counter("batchlab_jobs_completed", "Jobs that ended COMPLETED", ["type"])
JOBS_FAILED = Counter("batchlab_jobs_failed", "Jobs that ended FAILED, by error code", ["type", "code"])
JOBS_CANCELED = Counter("batchlab_jobs_canceled", "Jobs that ended CANCELED (at once when QUEUED, else by the handler)", ["type"])
JOBS_RETRIED = Counter(
    "batchlab_jobs_retried", "Jobs sent back to QUEUED: by=backoff after a transient error, by=user for a retry request",
    ["type", "by"],
)
RUN_SECONDS = Histogram(
    "batchlab_job_run_seconds", "Time a worker spent on one attempt of a job (claim to outcome)", ["type", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
QUEUE_WAIT_SECONDS = Histogram(
    "batchlab_job_queue_wait_seconds", "Time from a job being due (submitted, or its backoff over) to a worker claiming it",
    ["type"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)

CHUNKS = Counter("batchlab_chunks", "Chunks of item jobs finished by a worker: outcome=done, or canceled (stopped by a cancel)",
                 ["type", "outcome"])
ITEMS = Counter("batchlab_items", "Items of item jobs run by a worker, by outcome (succeeded, failed, skipped)", ["type", "outcome"])


def job_outcome_observe(*, type: str, outcome: str, run_seconds: float, error_code: str | None = None) -> None:
    """One finished attempt in a worker: its duration and, when final, the outcome's counter."""
    if outcome.startswith("skipped") or outcome == "lease_lost":
        return
    RUN_SECONDS.labels(type=type, outcome=outcome).observe(run_seconds)
    if outcome == "completed":
        JOBS_COMPLETED.labels(type=type).inc()
    elif outcome == "failed":
        JOBS_FAILED.labels(type=type, code=error_code or "unknown").inc()
    elif outcome == "canceled":
        JOBS_CANCELED.labels(type=type).inc()
    elif outcome == "retrying":
        JOBS_RETRIED.labels(type=type, by="backoff").inc()


def job_claim_observe(*, type: str, due_at: float | None) -> None:
    """A claim: how long the job waited since it was due (epoch seconds)."""
    if due_at is not None:
        QUEUE_WAIT_SECONDS.labels(type=type).observe(max(0.0, time.time() - float(due_at)))


def chunk_observe(*, type: str, outcome: str, items: list[int]) -> None:
    """One chunk run in a worker: its outcome and its items' (succeeded, failed, skipped) added by this run."""
    CHUNKS.labels(type=type, outcome=outcome).inc()
    for name, count in zip(("succeeded", "failed", "skipped"), items):
        if count > 0:
            ITEMS.labels(type=type, outcome=name).inc(count)


# Webhooks: counted in the delivery workers. Labels are bounded (outcomes and status classes from the code).
WEBHOOK_DELIVERIES = Counter(
    "batchlab_webhook_deliveries", "Webhook delivery tries recorded, by outcome (delivered, retrying, failed)", ["outcome"])
WEBHOOK_TRIES = Counter("batchlab_webhook_tries", "HTTP tries of webhook deliveries, by answer (2xx, 4xx, 5xx, 3xx, none)", ["answer"])
WEBHOOK_TRY_SECONDS = Histogram(
    "batchlab_webhook_try_seconds", "Time of one webhook try, from the POST to the receiver's answer (or the timeout)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)
WEBHOOK_EVENT_LAG_SECONDS = Histogram(
    "batchlab_webhook_event_lag_seconds", "Time from the write that raised an event to its delivery's 2xx (retries included)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400),
)
WEBHOOK_RELEASED = Counter("batchlab_webhook_released", "Deliveries published again by the due sweep (parked retries now due, lost messages)")
WEBHOOK_ENDPOINTS_DISABLED = Counter("batchlab_webhook_endpoints_disabled", "Webhook endpoints disabled (410 Gone, or failing for days)")


def webhook_try_observe(*, result) -> None:
    """One HTTP try: its duration and the class of its answer."""
    code = result.status_code
    WEBHOOK_TRIES.labels(answer="none" if code is None else f"{code // 100}xx").inc()
    WEBHOOK_TRY_SECONDS.observe(result.latency_ms / 1000)
