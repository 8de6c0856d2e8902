"""Execution, the worker's writes: claim, progress and lease, complete, fail, retry later, stop on cancel.

A claim is a conditional UpdateItem (QUEUED -> PROCESSING) that records a lease;
every later write of that worker is fenced by the claim's token, so a worker that
lost its lease cannot overwrite the outcome of the job's new owner.
"""

import random
import time
import uuid

from django.conf import settings
from pynamodb.exceptions import UpdateError

from jobs.exceptions import QueueUnavailable
from jobs.services import publishing, webhooks
from jobs.services.lease.fencing import Claim, LeaseLost, fenced_update, read_quietly
from jobs.services.store import allowed_by, append, entry, is_condition_failure, logger, moves_to, utcnow
from jobs.states import (
    CLAIM,
    COMPLETE,
    FAIL,
    GIVE_UP,
    HEARTBEAT,
    RETRY_LATER,
    STOP_CANCELED,
    JobStatus,
    is_final,
)
from jobs.tables import JOB_SK, Job



def _lease_deadline() -> int:
    return int(time.time()) + settings.BATCHLAB_LEASE_SECONDS


def job_claim(*, job_id: str, worker: str, actions: tuple = ()) -> Claim | str:
    """Claim the job for `worker`: QUEUED -> PROCESSING, or take over an expired lease.

    One conditional UpdateItem returning the new item (no read before it). On
    success returns a Claim; otherwise one GetItem tells why and a reason string
    comes back: "missing", "final", "busy" (another live claim) or "exhausted"
    (the job was failed here because it used up its attempts).
    """
    now = utcnow()
    token = uuid.uuid4().hex
    job = Job(job_id)
    # A PROCESSING job is claimable only once its lease has run out (its worker died).
    lease_free = (Job.status != JobStatus.PROCESSING) | (Job.lease_expires_at < int(now.timestamp()))
    try:
        job.update(
            actions=[
                *moves_to(CLAIM),
                Job.attempts.add(1),
                Job.started_at.set(now),
                Job.updated_at.set(now),
                Job.lease_owner.set(worker),
                Job.claim_token.set(token),
                Job.lease_expires_at.set(_lease_deadline()),
                Job.version.add(1),
                append(entry("claimed", status=CLAIM.target, worker=worker)),
                *actions,  # flow control's, in the same write (jobs.services.flow.gate)
            ],
            condition=Job.job_id.exists() & allowed_by(CLAIM) & lease_free & (Job.attempts < Job.max_attempts)
            & Job.chunks_total.does_not_exist(),  # an item job runs chunk by chunk, never whole
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return _claim_refused(job_id=job_id, token=token, worker=worker)
        # Every try failed in transit (the last answer lost too): one read tells
        # whether a try was applied; if so the claim is ours, else re-raise.
        landed = read_quietly(job_id)
        if landed is None or landed.claim_token != token:
            raise
        logger.info("job %s: claim applied, every answer lost; recognised by its token", job_id)
        return _started(Claim(job=landed, token=token, worker=worker))
    return _started(Claim(job=job, token=token, worker=worker))


def _started(claim: Claim) -> Claim:
    """A job that wants job.started records it in one more fenced write (the claim cannot: it reads nothing first)."""
    event = webhooks.job_status_event(job=claim.job, status=CLAIM.target)
    if event.event_id:
        fenced_update(claim, HEARTBEAT, [*event.actions, Job.version.add(1)])
        event.committed()
    return claim



def _claim_refused(*, job_id: str, token: str, worker: str) -> Claim | str:
    try:
        job = Job.get(job_id, JOB_SK, consistent_read=True)
    except Job.DoesNotExist:
        return "missing"
    if job.claim_token == token:
        # Our claim was applied but its answer was lost (connection reset); the
        # SDK's retry was then refused by the claim itself. The token says so.
        logger.info("job %s: claim applied, its answer lost; recognised by its token", job_id)
        return _started(Claim(job=job, token=token, worker=worker))
    if is_final(job.status):
        return "final"
    if job.chunks_total is not None:
        return "item_job"
    lease_live = job.status == JobStatus.PROCESSING and (job.lease_expires_at or 0) >= time.time()
    if lease_live:
        return "busy"
    # QUEUED or an expired lease, but no attempts left: fail it for good.
    message = f"Gave up after {int(job.attempts)} attempts."
    if job.status == JobStatus.PROCESSING:
        message = f"The worker running attempt {int(job.attempts)} stopped responding; no attempts left."
    job_give_up(job=job, code="max_attempts_exceeded", message=message)
    return "exhausted"


def job_give_up(*, job: Job, code: str, message: str) -> bool:
    """QUEUED/PROCESSING -> FAILED for a job nobody holds, conditional on the state that was read.

    One UpdateItem; False when the job moved meanwhile (someone else acted on it).
    """
    now = utcnow()
    event = webhooks.job_status_event(job=job, status=GIVE_UP.target)
    try:
        job.update(
            actions=[
                *event.actions,
                *moves_to(GIVE_UP),
                Job.error.set({"code": code, "message": message}),
                Job.finished_at.set(now),
                Job.updated_at.set(now),
                Job.lease_expires_at.remove(),
                Job.version.add(1),
                append(entry("failed", status=GIVE_UP.target, message=message)),
            ],
            condition=allowed_by(GIVE_UP, status=job.status) & (Job.version == job.version),
            add_version_condition=False,
        )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        return False
    event.committed()
    logger.info("job %s FAILED (%s): %s", job.job_id, code, message)
    return True


def _flush_log(claim: Claim, *entries) -> list:
    """Log lines the handler wrote since the last write ride along with this one, before `entries`."""
    pending, claim.pending_log = claim.pending_log + list(entries), []
    return [append(*pending)] if pending else []



def job_log(*, claim: Claim, message: str) -> None:
    """Queue a timeline line from the handler; it rides along with the claim's next write (no request)."""
    claim.pending_log.append(entry("log", status=JobStatus.PROCESSING, message=message, worker=claim.worker))


def job_progress(*, claim: Claim, done: int, total: int) -> None:
    """Record progress and renew the lease (one fenced UpdateItem); refreshes claim.job.

    Raises LeaseLost if the claim was taken over (this worker must stop).
    """
    event = webhooks.job_progress_event(job=claim.job)
    fenced_update(
        claim,
        HEARTBEAT,
        [
            Job.progress_done.set(done),
            Job.progress_total.set(total),
            Job.lease_expires_at.set(_lease_deadline()),
            Job.version.add(1),
            *event.actions,
            *_flush_log(claim),
        ],
    )
    event.committed()


def job_heartbeat(*, claim: Claim) -> None:
    """Renew the lease (one fenced UpdateItem); also reads back CancelRequested."""
    fenced_update(claim, HEARTBEAT, [Job.lease_expires_at.set(_lease_deadline()), Job.version.add(1), *_flush_log(claim)])


def job_complete(*, claim: Claim, result, progress: tuple[int, int] | None = None) -> None:
    """PROCESSING -> COMPLETED with the result and final progress (one fenced UpdateItem)."""
    actions = [
        Job.result.set(result),
        Job.error.remove(),
        Job.finished_at.set(utcnow()),
        Job.lease_expires_at.remove(),
        Job.version.add(1),
        *_flush_log(claim, entry("completed", status=COMPLETE.target, worker=claim.worker)),
    ]
    if progress is not None:
        actions += [Job.progress_done.set(progress[0]), Job.progress_total.set(progress[1])]
    event = webhooks.job_status_event(job=claim.job, status=COMPLETE.target)
    fenced_update(claim, COMPLETE, actions + event.actions, read_back=False)
    event.committed()
    logger.debug("job %s COMPLETED attempt=%s", claim.job_id, int(claim.job.attempts))  # the runner logs it at INFO


def job_fail(*, claim: Claim, code: str, message: str) -> None:
    """PROCESSING -> FAILED with {code, message} (one fenced UpdateItem); no more attempts."""
    event = webhooks.job_status_event(job=claim.job, status=FAIL.target)
    fenced_update(
        claim,
        FAIL,
        [
            *event.actions,
            Job.error.set({"code": code, "message": message}),
            Job.finished_at.set(utcnow()),
            Job.lease_expires_at.remove(),
            Job.version.add(1),
            *_flush_log(claim, entry("failed", status=FAIL.target, message=message, worker=claim.worker)),
        ],
    )
    event.committed()
    logger.info("job %s FAILED (%s): %s", claim.job_id, code, message)


def retry_delay(*, attempt: int) -> float:
    """Exponential backoff with jitter: uniform(ceiling / 2, ceiling), ceiling = min(cap, base * 2**(attempt-1))."""
    ceiling = min(settings.BATCHLAB_RETRY_MAX_SECONDS, settings.BATCHLAB_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    # SQS cannot delay a message more than 15 minutes.
    return min(random.uniform(ceiling / 2, ceiling), 900.0)


def job_retry_later(*, claim: Claim, code: str, message: str) -> float:
    """PROCESSING -> QUEUED after a transient error, then republish with backoff.

    One fenced UpdateItem and one SendMessage (delayed). Returns the delay.
    The caller checks attempts first: with none left it calls job_fail instead.
    """
    delay = retry_delay(attempt=int(claim.job.attempts))
    note = f"Attempt {int(claim.job.attempts)} failed: {message} Retrying in {delay:.1f} s."
    fenced_update(
        claim,
        RETRY_LATER,
        [
            Job.error.set({"code": code, "message": message}),
            Job.available_at.set(int(time.time() + delay)),
            Job.lease_owner.remove(),
            # The token stays: QUEUED already fences this claim out, and a lost
            # answer to this write is recognised by it (_applied_before).
            Job.lease_expires_at.remove(),
            Job.version.add(1),
            *_flush_log(claim, entry("retry_scheduled", status=RETRY_LATER.target, message=note, worker=claim.worker)),
        ],
    )
    try:
        publishing.job_publish(job_id=claim.job_id, countdown=delay, **publishing.job_route(claim.job))
    except QueueUnavailable:
        pass  # stays QUEUED; the recovery pass republishes it
    return delay


def job_mark_canceled(*, claim: Claim, progress_done: int | None = None) -> None:
    """PROCESSING -> CANCELED after the handler saw the cancel request (one fenced UpdateItem)."""
    done = progress_done if progress_done is not None else int(claim.job.progress_done or 0)
    total = int(claim.job.progress_total or 0)
    what = f" after {done} of {total} units" if total else ""
    event = webhooks.job_status_event(job=claim.job, status=STOP_CANCELED.target)
    fenced_update(
        claim,
        STOP_CANCELED,
        [
            *event.actions,
            Job.finished_at.set(utcnow()),
            Job.progress_done.set(done),
            Job.lease_expires_at.remove(),
            Job.version.add(1),
            *_flush_log(claim, entry("canceled", status=STOP_CANCELED.target, message=f"Stopped on request{what}.", worker=claim.worker)),
        ],
    )
    event.committed()
    logger.info("job %s CANCELED while processing%s", claim.job_id, what)
