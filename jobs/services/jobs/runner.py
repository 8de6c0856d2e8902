"""Runs one job in a worker: the job's work for the one runner (jobs.services.lease.runner): its handler with a context, and each way it can end.

Every write goes through jobs.services.jobs.transitions. The context a handler
receives reports progress, logs to the timeline and checks for cancellation,
batching its writes so that a job costs few requests; its lease is renewed by
the process's lease keeper however long the handler runs.
"""

import json
import logging
import os
import socket
import time

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from jobs import log_context, metrics
from jobs.handlers.registry import JobCanceled, PermanentError, TransientError, job_type_get
from jobs.services import publishing
from jobs.services.flow.gate import flow_finished, gated_claim
from jobs.services.jobs import transitions
from jobs.services.lease.claim import Claim, LeaseLost, Refused
from jobs.services.lease.keeper import LeaseHolder
from jobs.services.lease.outcome import Outcome
from jobs.services.lease.runner import LeasedWork, RetryLater, retry_direct, unit_execute
from jobs.exceptions import QueueUnavailable
from jobs.services.store import MAX_TIMELINE_ENTRIES, Answer, json_bytes, refusal_of
from jobs.selectors.workflows import step_parents

logger = logging.getLogger(__name__)

# Log lines one run of a handler may add to its job's timeline (each cut to store.MAX_ENTRY_BYTES);
# fewer when the timeline is already long, so that the job record stays bounded.
MAX_LOG_LINES = 50


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobContext(LeaseHolder):
    """What a handler gets besides its payload.

    `progress(done, total)` and `log(message)` are cheap: progress is written at
    most every BATCHLAB_PROGRESS_INTERVAL seconds and log lines ride along with
    the next write. `check_cancel()` raises JobCanceled once a cancel was
    requested (seen in the item that each write returns). A store that does not
    answer a progress write costs the handler nothing: the next write carries it.
    """

    def __init__(self, claim: Claim):
        super().__init__(claim)
        self.done = int(claim.job.progress_done or 0)
        self.total = int(claim.job.progress_total or 0)
        self._log_lines = 0
        self._log_room = max(0, min(MAX_LOG_LINES, MAX_TIMELINE_ENTRIES - 20 - len(claim.job.timeline or [])))
        self._parents = None

    @property
    def job_id(self) -> str:
        return self.claim.job_id

    @property
    def claim_token(self) -> str:
        """The fencing token of this run's claim: a sink can refuse writes of a run that lost the job."""
        return self.claim.token

    @property
    def attempt(self) -> int:
        return int(self.claim.job.attempts)

    @property
    def cancel_requested(self) -> bool:
        return bool(self.claim.job.cancel_requested)

    @property
    def parents(self) -> dict:
        """A workflow step's parents by name, each {status, result, error, job_id} (an item job: its counts and
        where its results are); a callback's are every step. Read on first use (one BatchGetItem per 100); {} outside."""
        if self._parents is None:
            self._parents = step_parents(self.claim.job) if self.claim.job.workflow_id else {}
        return self._parents

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = int(done), int(total)
        now = time.monotonic()
        if now - self._last_write >= settings.BATCHLAB_PROGRESS_INTERVAL or (done == 0 and self.claim.job.progress_total != total):
            try:
                self.write(lambda: transitions.job_progress(claim=self.claim, done=self.done, total=self.total))
            except LeaseLost:
                raise
            except Exception as exc:  # advisory: the store not answering costs no attempt; the next write carries it
                logger.warning("job %s: progress not written (%s); going on", self.job_id, exc)

    def log(self, message: str) -> None:
        if self._log_lines >= self._log_room:
            return
        self._log_lines += 1
        text = str(message)
        if self._log_lines == self._log_room:
            text = f"{text} (log limit of {self._log_room} lines for this run reached; further lines dropped)"
        with self._lock:
            transitions.job_log(claim=self.claim, message=text)
        logger.info("job %s log: %s", self.job_id, text[:300])

    def check_cancel(self) -> None:
        self.check_lease()
        if self.cancel_requested:
            raise JobCanceled()

    def renew(self) -> None:
        transitions.job_heartbeat(claim=self.claim)


def _check_result(result) -> tuple[object, str | None, str | None]:
    """Return (result, error_code, error_message): the handler's output must be JSON and bounded."""
    try:
        encoded = json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return None, "result_not_serializable", f"The handler returned a value that is not JSON: {exc}."
    size = json_bytes(result)
    if size > settings.BATCHLAB_MAX_RESULT_BYTES:
        return None, "result_too_large", f"The result is {size} bytes; the limit is {settings.BATCHLAB_MAX_RESULT_BYTES}."
    return json.loads(encoded), None, None


def _error_text(exc: Exception) -> str:
    return str(exc) or exc.__class__.__name__


class JobWork(LeasedWork):
    """A whole job: its handler called once per attempt."""

    kind_name = "job"

    def __init__(self, job_id: str, flow: dict | None = None):
        self.job_id, self.flow = job_id, flow
        self.error_code: str | None = None

    def claim(self, *, worker: str) -> Claim | Refused:
        def claim(actions, also):
            return transitions.job_claim(
                job_id=self.job_id, worker=worker, actions=tuple(actions), also=tuple(also))
        return gated_claim(job_id=self.job_id, number=None, flow=self.flow, claim=claim)

    def release(self, claim: Claim) -> None:
        flow_finished(claim.unit)  # the slots its claim took, if its type is limited

    def exhausted(self, refused: Refused) -> None:
        job = refused.unit
        message = f"Gave up after {int(job.attempts)} attempts."
        if job.status == "PROCESSING":
            message = f"The worker running attempt {int(job.attempts)} stopped responding; no attempts left."
        transitions.job_give_up(job=job, code="max_attempts_exceeded", message=message)

    def observe(self, *, claim: Claim, outcome: Outcome, seconds: float) -> None:
        metrics.job_outcome_observe(type=claim.job.type, outcome=str(outcome), run_seconds=seconds,
                                    error_code=self.error_code if outcome is Outcome.FAILED else None)

    def _fail(self, claim: Claim, code: str, message: str) -> Outcome:
        transitions.job_fail(claim=claim, code=code, message=message)
        self.error_code = code
        return Outcome.FAILED

    def time_limit(self, claim: Claim) -> Outcome:
        return self._fail(claim, "time_limit_exceeded", f"The job ran longer than {settings.BATCHLAB_MAX_JOB_SECONDS} s.")

    def run(self, claim: Claim) -> Outcome:
        job = claim.job
        with log_context.bound(job_type=job.type, attempt=int(job.attempts)):
            metrics.job_claim_observe(type=job.type, due_at=job.available_at)
            started = time.monotonic()
            outcome = self._run(claim)
            if outcome is Outcome.COMPLETED:
                logger.info("job %s COMPLETED in %.3f s attempt=%s/%s type=%s worker=%s", job.job_id,
                            time.monotonic() - started, int(job.attempts), int(job.max_attempts), job.type, claim.worker)
            return outcome

    def _run(self, claim: Claim) -> Outcome:
        job = claim.job
        try:
            job_type = job_type_get(job.type)
        except Exception as exc:
            return self._fail(claim, "unknown_job_type", str(getattr(exc, "detail", exc)))
        ctx = JobContext(claim)
        try:
            with ctx:
                if ctx.cancel_requested:
                    raise JobCanceled()
                result = job_type.handler(dict(job.payload or {}), ctx)
        except JobCanceled:
            transitions.job_mark_canceled(claim=claim, progress_done=ctx.done)
            return Outcome.CANCELED
        except (LeaseLost, RetryLater, SoftTimeLimitExceeded):
            raise
        except PermanentError as exc:
            return self._fail(claim, "permanent_error", _error_text(exc))
        except Exception as exc:  # TransientError, or any unexpected error: retried while attempts remain
            return self._transient(claim, exc)
        result, code, message = _check_result(result)
        if code:
            return self._fail(claim, code, message)
        try:
            transitions.job_complete(claim=claim, result=result, progress=(ctx.done, ctx.total) if ctx.total else None)
        except Exception as exc:
            if refusal_of(exc).answer is not Answer.TOO_LARGE:
                raise
            return self._fail(claim, "result_too_large", "The result does not fit in the job record.")
        return Outcome.COMPLETED

    def _transient(self, claim: Claim, exc: Exception) -> Outcome:
        job = claim.job
        code = "transient_error" if isinstance(exc, TransientError) else "handler_exception"
        message = _error_text(exc)
        if not isinstance(exc, TransientError):
            logger.exception("job %s: handler raised", job.job_id)
            message = f"{exc.__class__.__name__}: {message}"
        if int(job.attempts) >= int(job.max_attempts):
            return self._fail(claim, "max_attempts_exceeded", f"Gave up after {int(job.attempts)} attempts. Last error: {message}")

        def record(delay: float) -> bool:  # called by Celery's retry, after the runner returned: its own log context
            with log_context.bound(job_id=job.job_id, job_type=job.type, attempt=int(job.attempts), worker=claim.worker):
                try:
                    transitions.job_retry_later(claim=claim, code=code, message=message, delay=delay)
                except LeaseLost:
                    return False
                logger.info("job %s attempt %s failed (%s); retry in %.0f s", job.job_id, int(job.attempts), message[:300], delay)
                return True

        def publish(delay: float) -> None:
            try:
                publishing.job_publish(job_id=job.job_id, delay_seconds=int(delay), **publishing.job_route(job))
            except QueueUnavailable:
                pass  # stays QUEUED; the recovery pass republishes it

        def give_up() -> None:
            self._fail(claim, "max_attempts_exceeded", f"Gave up after {int(job.attempts)} attempts. Last error: {message}")

        raise RetryLater(label=job.job_id, message=message, attempt=int(job.attempts),
                         record=record, publish=publish, give_up=give_up)


def job_execute(*, job_id: str, worker: str | None = None, defer_retry: bool = False, flow: dict | None = None) -> Outcome:
    """Pass the flow gate, claim and run one job; returns its Outcome (jobs.services.lease.outcome).

    WAITING: its type is paused or at a limit, and its message comes back later
    (flow control, `flow`: the hints its message carried).

    Never raises for a handler's error: each one ends in a recorded state. A
    transient failure raises RetryLater when `defer_retry` (the Celery task: its
    own retry then records it and sends the message with an SQS delay); else it is
    recorded and published here the same way (RETRYING).
    """
    worker = worker or worker_id()
    try:
        return unit_execute(JobWork(job_id, flow), worker=worker, label=job_id)
    except RetryLater as retry:
        if defer_retry:
            raise
        return retry_direct(retry)
