"""The one runner of a leased unit: claim it, run its work with the time limit and the error classes handled once, return the Outcome.

A kind of work (a whole job, a chunk of items) is a `LeasedWork`: how to claim
it, how to run it once claimed, what to do when the claim finds it out of
attempts, when the time limit strikes, and what to record for a transient error.
The runner does the rest the same way for every kind:

- a refused claim is logged and comes back as its Outcome (EXHAUSTED after the
  work ended the unit for good);
- LeaseLost anywhere: LEASE_LOST, nothing more is written (the new owner decides);
- Celery's SoftTimeLimitExceeded: the work's `time_limit` (a job fails; a chunk
  keeps what it did and leaves the rest for its next attempt);
- a transient failure: `RetryLater`, raised out of the runner. Under Celery the
  task turns it into Celery's own retry (autoretry_for, retry_backoff ...), the
  delay travelling as an SQS message delay; called directly, `retry_direct`
  records and publishes it the same way.
"""

import logging
import time
from collections.abc import Callable

from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from jobs import log_context
from jobs.services.lease.claim import Claim, LeaseLost, Refused
from jobs.services.lease.outcome import Outcome

logger = logging.getLogger("jobs.services")

# SQS cannot delay a message longer than 15 minutes.
MAX_DELAY_SECONDS = 900


class RetryLater(Exception):
    """This attempt of a unit ended with a transient failure: try it again after a backoff.

    `record(delay)` writes the unit back to waiting (its next attempt time, the
    error) and returns False when the lease was lost meanwhile (then nothing is
    published); `publish(delay)` sends its message with an SQS delay; `give_up()`
    ends the unit for good (Celery's max_retries was reached first).
    """

    def __init__(self, *, label: str, message: str, attempt: int, record: Callable[[float], bool],
                 publish: Callable[[float], None], give_up: Callable[[], None]):
        super().__init__(f"{label}: {message}")
        self.label, self.message, self.attempt = label, message, attempt
        self.record, self.publish, self.give_up = record, publish, give_up


def backoff_seconds(*, retries: int) -> int:
    """Celery's own exponential backoff with full jitter, from BatchLab's settings (what autoretry computes)."""
    return min(MAX_DELAY_SECONDS, get_exponential_backoff_interval(
        factor=int(max(1.0, settings.BATCHLAB_RETRY_BASE_SECONDS)), retries=retries,
        maximum=int(settings.BATCHLAB_RETRY_MAX_SECONDS), full_jitter=settings.BATCHLAB_RETRY_JITTER))


def retry_direct(retry: RetryLater) -> Outcome:
    """Outside Celery (tests, the profiler): record the retry and publish it with an SQS delay, as the task would."""
    delay = backoff_seconds(retries=max(0, retry.attempt - 1))
    if not retry.record(delay):
        return Outcome.LEASE_LOST
    retry.publish(delay)
    return Outcome.RETRYING


class LeasedWork:
    """One kind of work over a leased unit; the runner calls these in order."""

    kind_name = "unit"

    def claim(self, *, worker: str) -> Claim | Refused:
        raise NotImplementedError

    def exhausted(self, refused: Refused) -> None:
        """The claim found no attempts left: end the unit for good (conditional on what was read)."""
        raise NotImplementedError

    def run(self, claim: Claim) -> Outcome:
        """Run the claimed unit and record how it ended; may raise RetryLater, LeaseLost."""
        raise NotImplementedError

    def time_limit(self, claim: Claim) -> Outcome:
        """Celery's soft time limit struck while `run` was running."""
        raise NotImplementedError

    def release(self, claim: Claim) -> None:
        """The run is over, however it ended (RetryLater and LeaseLost too): give back what the claim took
        besides the unit (a limited type's slots). Nothing by default; a failure is logged."""

    def observe(self, *, claim: Claim, outcome: Outcome, seconds: float) -> None:
        """Metrics of one run (nothing by default)."""


def unit_execute(work: LeasedWork, *, worker: str, label: str) -> Outcome:
    """Claim and run one unit of `work`; returns its Outcome. Raises RetryLater (the caller retries it)."""
    with log_context.bound(job_id=label, worker=worker):
        claim = work.claim(worker=worker)
        if isinstance(claim, Refused):
            if claim.outcome is Outcome.EXHAUSTED:
                work.exhausted(claim)
            logger.info("%s %s not claimed by %s: %s", work.kind_name, label, worker, claim.outcome)
            return claim.outcome
        started = time.monotonic()
        outcome = Outcome.LEASE_LOST
        try:
            outcome = _run_claimed(work, claim)
        except RetryLater:
            outcome = Outcome.RETRYING
            raise
        finally:
            try:
                work.release(claim)
            except Exception:  # what it held is found dead later (flow control reclaims a dead run's slot)
                logger.exception("%s %s: release after the run failed", work.kind_name, label)
            work.observe(claim=claim, outcome=outcome, seconds=time.monotonic() - started)
        return outcome


def _run_claimed(work: LeasedWork, claim: Claim) -> Outcome:
    try:
        try:
            return work.run(claim)
        except SoftTimeLimitExceeded:
            logger.warning("%s %s: time limit of %s s reached", work.kind_name, claim.label, settings.BATCHLAB_MAX_JOB_SECONDS)
            return work.time_limit(claim)
    except LeaseLost as exc:
        logger.warning("%s; its outcome is left to the new owner", exc)
        return Outcome.LEASE_LOST
