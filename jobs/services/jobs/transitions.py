"""A job's transitions by its worker: claim, progress and lease, complete, fail, retry later, stop on cancel; and giving up a job nobody holds.

The claim and every fenced write go through the lease mechanism
(jobs.services.lease.claim); this module says what each of a job's writes sets.
Each write that moves the job's status carries its `transition_effects`. Every
message a handler or an error puts on the job is truncated (store.truncate), and
the timeline stays bounded (store.timeline_add): the job item never outgrows
DynamoDB's 400 KB whatever the handler does (jobs.services.bounds says the bound).
"""

import time
from collections.abc import Sequence

from jobs.services import webhooks
from jobs.services.jobs.effects import effects_write, transition_effects
from jobs.services.lease.claim import AlsoRefused, Claim, Refused, fenced_write, lease_deadline, transact_write, unit_claim
from jobs.services.lease.units import JOB
from jobs.services.store import (
    Answer,
    allowed_by,
    append,
    entry,
    logger,
    moves_to,
    refusal_of,
    store_retry,
    timeline_add,
    truncate,
    utcnow,
)
from jobs.states import CLAIM, COMPLETE, FAIL, GIVE_UP, HEARTBEAT, RETRY_LATER, STOP_CANCELED, JobStatus, Transition
from jobs.tables import Job


def job_claim(*, job_id: str, worker: str, actions: Sequence = (), also: Sequence = ()) -> Claim | Refused:
    """Claim the job for `worker`: QUEUED -> PROCESSING, or take over an expired lease (jobs.services.lease.claim).

    `actions` and `also` (flow control's, jobs.services.flow.gate) ride in the claim's own write.
    """
    effects = transition_effects(job_id=job_id, transition=CLAIM)
    claim = unit_claim(kind=JOB, job_id=job_id, worker=worker, also=[*also, *effects.also],
                       actions=[append(entry("claimed", status=CLAIM.target, worker=worker)), *actions, *effects.actions])
    if isinstance(claim, Claim):
        effects.committed()
        _started(claim)
    return claim


def _started(claim: Claim) -> None:
    """A job that wants job.started records it in one more fenced write (the claim cannot: it reads nothing first)."""
    event = webhooks.job_status_event(job=claim.job, status=CLAIM.target)
    if event.event_id:
        fenced_write(claim, HEARTBEAT, list(event.actions))
        event.committed()


def job_give_up(*, job: Job, code: str, message: str, actions: list = ()) -> bool:
    """QUEUED/PROCESSING -> FAILED for a job nobody holds, conditional on the status and version that were read.

    One UpdateItem (`actions`: more to set in it); False when the job moved meanwhile (someone else acted on it).
    """
    if not GIVE_UP.allows(job.status):
        return False
    now = utcnow()
    message = truncate(message)
    actions = [
        *moves_to(GIVE_UP),
        *actions,
        Job.error.set({"code": code, "message": message}),
        Job.finished_at.set(now),
        Job.updated_at.set(now),
        Job.lease_expires_at.remove(),
        Job.version.add(1),
        timeline_add(job, entry("failed", status=GIVE_UP.target, message=message)),
    ]
    condition = allowed_by(GIVE_UP, status=job.status) & (Job.version == job.version)
    if not job_write(job, GIVE_UP, actions, condition):
        return False
    logger.info("job %s FAILED (%s): %s", job.job_id, code, message)
    return True


def job_write(job: Job, transition: Transition, actions: list, condition) -> bool:
    """One conditional write of a job nobody holds, with its transition's effects (run once it applied).

    False when refused (the job moved meanwhile); conflicts and throttles are tried
    again, and so is a write whose effects' `also` was refused (effects_write);
    other failures raised. For writes by users, staff, recovery and the scheduler.
    """
    def write(effects):
        every = [*actions, *effects.actions]

        def once():
            if effects.also:
                transact_write(Job(job.job_id), every, condition, effects.also)
            else:
                job.update(actions=every, condition=condition, add_version_condition=False)

        try:
            store_retry(once, what=f"{transition.name} of job {job.job_id}")
        except Exception as exc:
            refusal = refusal_of(exc)
            if refusal.answer is Answer.REFUSED and refusal.index:
                raise AlsoRefused(refusal.index) from None
            raise

    try:
        effects_write(job_id=job.job_id, job=job, transition=transition, write=write)
    except Exception as exc:
        if refusal_of(exc).answer is Answer.REFUSED:
            return False
        raise
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
    event = webhooks.job_progress_event(job=claim.job)  # at most one job.progress per PROGRESS_EVENT_SECONDS
    fenced_write(claim, HEARTBEAT, [
        Job.progress_done.set(done), Job.progress_total.set(total), Job.lease_expires_at.set(lease_deadline()),
        *_flush_log(claim), *event.actions,
    ], read_back=True)
    event.committed()


def job_heartbeat(*, claim: Claim) -> None:
    """Renew the lease (one fenced UpdateItem); also reads back CancelRequested."""
    fenced_write(claim, HEARTBEAT, [Job.lease_expires_at.set(lease_deadline()), *_flush_log(claim)], read_back=True)


def _final_write(claim: Claim, transition: Transition, actions: list) -> None:
    """The claim's last write, with its transition's effects (asked again while their `also` is refused)."""
    effects_write(job_id=claim.job_id, job=claim.job, transition=transition,
                  write=lambda effects: fenced_write(claim, transition, [*actions, *effects.actions], also=effects.also))


def job_complete(*, claim: Claim, result, progress: tuple[int, int] | None = None) -> None:
    """PROCESSING -> COMPLETED with the result and final progress (one fenced UpdateItem)."""
    actions = [
        Job.result.set(result),
        Job.error.remove(),
        Job.finished_at.set(utcnow()),
        Job.lease_expires_at.remove(),
        *_flush_log(claim, entry("completed", status=COMPLETE.target, worker=claim.worker)),
    ]
    if progress is not None:
        actions += [Job.progress_done.set(progress[0]), Job.progress_total.set(progress[1])]
    _final_write(claim, COMPLETE, actions)
    logger.debug("job %s COMPLETED attempt=%s", claim.job_id, int(claim.job.attempts))  # the runner logs it at INFO


def job_fail(*, claim: Claim, code: str, message: str) -> None:
    """PROCESSING -> FAILED with {code, message} (one fenced UpdateItem); no more attempts.

    If the job item cannot take even that (it is at DynamoDB's size limit), the
    timeline's log lines and the result are dropped in the same write.
    """
    message = truncate(message)
    actions = [
        Job.error.set({"code": code, "message": message}),
        Job.finished_at.set(utcnow()),
        Job.lease_expires_at.remove(),
    ]
    failed = entry("failed", status=FAIL.target, message=message, worker=claim.worker)
    try:
        _final_write(claim, FAIL, [*actions, *_flush_log(claim, failed)])
    except Exception as exc:
        if refusal_of(exc).answer is not Answer.TOO_LARGE:
            raise
        logger.warning("job %s: the job item is at DynamoDB's size limit; failing it without its log", claim.job_id)
        _final_write(claim, FAIL, [*actions, Job.result.remove(),
                                   Job.timeline.set([e for e in (claim.job.timeline or []) if e.event != "log"][:20] + [failed])])
    logger.info("job %s FAILED (%s): %s", claim.job_id, code, message)


def job_retry_later(*, claim: Claim, code: str, message: str, delay: float) -> None:
    """PROCESSING -> QUEUED after a transient error, due again in `delay` seconds (one fenced UpdateItem).

    The caller publishes the message (with that SQS delay) once this is written;
    it checks attempts first: with none left it calls job_fail instead.
    """
    message = truncate(message)
    note = f"Attempt {int(claim.job.attempts)} failed: {message} Retrying in {delay:.0f} s."
    _final_write(claim, RETRY_LATER, [
        Job.error.set({"code": code, "message": message}),
        Job.available_at.set(int(time.time() + delay)),
        Job.lease_owner.remove(),
        # The token stays: QUEUED already fences this claim out, and a lost
        # answer to this write is recognised by it.
        Job.lease_expires_at.remove(),
        *_flush_log(claim, entry("retry_scheduled", status=RETRY_LATER.target, message=note, worker=claim.worker)),
    ])


def job_mark_canceled(*, claim: Claim, progress_done: int | None = None) -> None:
    """PROCESSING -> CANCELED after the handler saw the cancel request (one fenced UpdateItem)."""
    done = progress_done if progress_done is not None else int(claim.job.progress_done or 0)
    total = int(claim.job.progress_total or 0)
    what = f" after {done} of {total} units" if total else ""
    _final_write(claim, STOP_CANCELED, [
        Job.finished_at.set(utcnow()),
        Job.progress_done.set(done),
        Job.lease_expires_at.remove(),
        *_flush_log(claim, entry("canceled", status=STOP_CANCELED.target, message=f"Stopped on request{what}.", worker=claim.worker)),
    ])
    logger.info("job %s CANCELED while processing%s", claim.job_id, what)
