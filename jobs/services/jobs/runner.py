"""Runs one job in a worker: claim, call the handler with a context, record the outcome.

Every write goes through jobs.services.jobs.transitions; this module decides which one. The
context a handler receives reports progress, logs to the timeline and checks
for cancellation, batching its writes so that a job costs few requests.
"""

import json
import logging
import os
import socket
import threading
import time

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from pynamodb.exceptions import UpdateError

from jobs import log_context, metrics
from jobs.handlers.registry import JobCanceled, PermanentError, TransientError, job_type_get
from jobs.services.jobs import transitions as services
from jobs.services.jobs.transitions import Claim, LeaseLost
from jobs.services.flow.gate import flow_gate, flow_started
from jobs.services.lease.keeper import KEEPER

logger = logging.getLogger(__name__)

MAX_LOG_LINES = 100
MAX_LOG_LINE = 1000


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobContext:
    """What a handler gets besides its payload.

    `progress(done, total)` and `log(message)` are cheap: progress is written at
    most every BATCHLAB_PROGRESS_INTERVAL seconds and log lines ride along with
    the next write. `check_cancel()` raises JobCanceled once a cancel was
    requested (seen in the item that each write returns).
    """

    def __init__(self, claim: Claim):
        self._claim = claim
        self._lock = threading.Lock()
        self._last_write = time.monotonic()
        self._log_lines = 0
        self.done = int(claim.job.progress_done or 0)
        self.total = int(claim.job.progress_total or 0)
        self.lease_lost = False
        self._closed = False  # set on exit: the lease keeper writes no more
        self._retry_at = 0.0

    @property
    def job_id(self) -> str:
        return self._claim.job_id

    @property
    def claim_token(self) -> str:
        """The fencing token of this run's claim: a sink can refuse writes of a run that lost the job."""
        return self._claim.token

    @property
    def attempt(self) -> int:
        return int(self._claim.job.attempts)

    @property
    def cancel_requested(self) -> bool:
        return bool(self._claim.job.cancel_requested)

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = int(done), int(total)
        now = time.monotonic()
        if now - self._last_write >= settings.BATCHLAB_PROGRESS_INTERVAL or (done == 0 and self._claim.job.progress_total != total):
            self._write(lambda: services.job_progress(claim=self._claim, done=self.done, total=self.total))

    def log(self, message: str) -> None:
        if self._log_lines >= MAX_LOG_LINES:
            return
        self._log_lines += 1
        text = str(message)[:MAX_LOG_LINE]
        if self._log_lines == MAX_LOG_LINES:
            text += f" (log limit of {MAX_LOG_LINES} lines reached; further lines dropped)"
        with self._lock:
            services.job_log(claim=self._claim, message=text)
        logger.info("job %s log: %s", self.job_id, text)

    def check_cancel(self) -> None:
        if self.lease_lost:
            raise LeaseLost(f"job {self.job_id}: lease lost")
        if self.cancel_requested:
            raise JobCanceled()

    # -- lease heartbeat --------------------------------------------------------

    def _write(self, write, *, renewal: bool = False) -> None:
        with self._lock:
            if renewal and self._closed:
                return
            try:
                write()
            except LeaseLost:
                self.lease_lost = True
                raise
            self._last_write = time.monotonic()

    def renew_if_due(self, *, now: float, interval: float) -> float | None:
        """Called by the process's lease keeper: renew the lease unless a write did within `interval`."""
        if self._closed or self.lease_lost:
            return None
        due = max(self._last_write + interval, self._retry_at)
        if now < due:
            return due
        try:
            self._write(lambda: services.job_heartbeat(claim=self._claim), renewal=True)
        except LeaseLost:
            logger.warning("job %s: lease lost; the handler will be stopped at its next check", self.job_id)
            return None
        except Exception:
            logger.exception("job %s: lease renewal failed; retrying", self.job_id)
            self._retry_at = time.monotonic() + interval
            return self._retry_at
        return self._last_write + interval

    def __enter__(self):
        KEEPER.add(self)
        return self

    def __exit__(self, *exc):
        with self._lock:  # waits for a renewal in flight; none starts after this
            self._closed = True
        KEEPER.remove(self)
        return False


def _check_result(result) -> tuple[object, str | None, str | None]:
    """Return (result, error_code, error_message): the handler's output must be JSON and bounded."""
    try:
        encoded = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return None, "result_not_serializable", f"The handler returned a value that is not JSON: {exc}."
    size = len(encoded.encode("utf-8"))
    if size > settings.BATCHLAB_MAX_RESULT_BYTES:
        return None, "result_too_large", f"The result is {size} bytes; the limit is {settings.BATCHLAB_MAX_RESULT_BYTES}."
    return json.loads(encoded), None, None


def job_execute(*, job_id: str, worker: str | None = None, flow: dict | None = None) -> str:
    """Pass the flow gate, claim and run one job; returns the outcome (for logs and tests).

    Outcomes: completed, failed, retrying, canceled, waiting (its type is paused or at a
    limit: its message comes back later), skipped:<reason>, lease_lost.
    Never raises for a handler's error: each one ends in a recorded state.
    """
    worker = worker or worker_id()
    with log_context.bound(job_id=job_id, worker=worker):
        gate = flow_gate(job_id=job_id, number=None, flow=flow)
        if not gate.passed:
            return gate.outcome
        claim = services.job_claim(job_id=job_id, worker=worker, actions=tuple(gate.actions))
        if isinstance(claim, str):
            logger.info("job %s not claimed by %s: %s", job_id, worker, claim)
            return f"skipped:{claim}"
        flow_started(gate)
        job = claim.job
        with log_context.bound(job_type=job.type, attempt=int(job.attempts)):
            # One INFO line per job, at its end (each line costs the worker ~0.1 ms of CPU).
            logger.debug("job %s claimed by %s attempt=%s/%s type=%s", job_id, worker, int(job.attempts), int(job.max_attempts), job.type)
            metrics.job_claim_observe(type=job.type, due_at=job.available_at)
            started = time.monotonic()
            try:
                outcome = _run_claimed(claim)
            except LeaseLost as exc:
                logger.warning("job %s: %s; its outcome is left to the new owner", job_id, exc)
                outcome = "lease_lost"
    error = claim.job.error.as_dict() if outcome == "failed" and claim.job.error else {}
    metrics.job_outcome_observe(type=job.type, outcome=outcome, run_seconds=time.monotonic() - started,
                                error_code=error.get("code"))
    return outcome


def _run_claimed(claim: Claim) -> str:
    job = claim.job
    started = time.monotonic()
    try:
        job_type = job_type_get(job.type)
    except Exception as exc:
        services.job_fail(claim=claim, code="unknown_job_type", message=str(getattr(exc, "detail", exc)))
        return "failed"
    try:
        with JobContext(claim) as ctx:
            if ctx.cancel_requested:
                raise JobCanceled()
            result = job_type.handler(dict(job.payload or {}), ctx)
    except JobCanceled:
        services.job_mark_canceled(claim=claim, progress_done=ctx.done)
        return "canceled"
    except LeaseLost:
        raise
    except PermanentError as exc:
        services.job_fail(claim=claim, code="permanent_error", message=str(exc) or exc.__class__.__name__)
        return "failed"
    except SoftTimeLimitExceeded:
        services.job_fail(claim=claim, code="time_limit_exceeded", message=f"The job ran longer than {settings.BATCHLAB_MAX_JOB_SECONDS} s.")
        return "failed"
    except Exception as exc:  # TransientError, or any unexpected error: retried while attempts remain
        code = "transient_error" if isinstance(exc, TransientError) else "handler_exception"
        message = str(exc) or exc.__class__.__name__
        if not isinstance(exc, TransientError):
            logger.exception("job %s: handler raised", job.job_id)
            message = f"{exc.__class__.__name__}: {message}"
        if int(job.attempts) >= int(job.max_attempts):
            services.job_fail(claim=claim, code="max_attempts_exceeded", message=f"Gave up after {int(job.attempts)} attempts. Last error: {message}")
            return "failed"
        delay = services.job_retry_later(claim=claim, code=code, message=message)
        logger.info("job %s attempt %s failed (%s); retry in %.1f s", job.job_id, int(job.attempts), message, delay)
        return "retrying"
    result, code, message = _check_result(result)
    if code:
        services.job_fail(claim=claim, code=code, message=message)
        return "failed"
    try:
        services.job_complete(claim=claim, result=result, progress=(ctx.done, ctx.total) if ctx.total else None)
    except UpdateError as exc:
        # DynamoDB refuses an item over 400 KB: record that instead of losing the state.
        if "size" not in str(exc).lower():
            raise
        services.job_fail(claim=claim, code="result_too_large", message="The result does not fit in the job record.")
        return "failed"
    logger.info("job %s COMPLETED in %.3f s attempt=%s/%s type=%s worker=%s", job.job_id, time.monotonic() - started,
                int(job.attempts), int(job.max_attempts), job.type, claim.worker)
    return "completed"
