"""A job (or chunk) held by a pause or a limit: why it waits (on its record), its message sent again later, and the wake-ups.

Waiting uses up no attempt: the unit is not claimed. Its message is deleted and
sent again with an SQS delay (a new message: SQS's receive count, which moves a
message to the dead-letter queue, starts again). The record says why it waits
(`WaitingFor`, written once per reason, with a timeline line). A job waiting for a
pause or a concurrency slot is also a waiter item next to its limiter: a resume,
a slot given back or a limit raised publishes it at once, and its delayed message
is only the fallback (jobs.flow.wait_delay: doubling up to
BATCHLAB_CONCURRENCY_WAIT_MAX_SECONDS or BATCHLAB_PAUSE_WAIT_MAX_SECONDS).
"""

import time
from datetime import timedelta

from django.conf import settings
from pynamodb.exceptions import DeleteError, PynamoDBException, UpdateError

from jobs.flow import Limits, WaitPolicy, WaitReason, wait_delay
from jobs.services import publishing
from jobs.services.flow.limiter import type_scope
from jobs.services.store import append, entry, is_condition_failure, logger, utcnow
from jobs.states import ChunkStatus, JobStatus
from jobs.tables import JOB_SK, WAITER_PREFIX, Chunk, Job, Waiter, chunk_sk

WAITER_KEPT = timedelta(days=1)  # a waiter nobody woke (its job ended meanwhile) expires


def policy() -> WaitPolicy:
    return WaitPolicy(concurrency_max=settings.BATCHLAB_CONCURRENCY_WAIT_MAX_SECONDS,
                      paused_max=settings.BATCHLAB_PAUSE_WAIT_MAX_SECONDS)


def _why(reason: WaitReason, detail: str) -> str:
    return {WaitReason.PAUSED: "Waiting: its type is paused.",
            WaitReason.CONCURRENCY: f"Waiting for a concurrency slot ({detail}).",
            WaitReason.RATE: f"Waiting for its turn ({detail})."}[reason]


def waiting_record(*, job_id: str, number: int | None, reason: WaitReason, detail: str = "", back_at: float,
                   first: bool = True, type: str | None = None) -> bool:
    """Record why a QUEUED job (a PENDING chunk) waits, and when its message is back (AvailableAt, so that the
    recovery pass does not publish it again meanwhile): one conditional UpdateItem; False once it no longer waits.

    `first`: the first wait for this reason (WaitingFor, WaitingSince and a timeline line); else AvailableAt alone.
    A chunk's first wait also records its job's `type` and the time, which put it on the metrics' index.
    """
    now = utcnow()
    try:
        if number is None:
            actions = [Job.available_at.set(int(back_at))]
            if first:
                actions += [Job.waiting_for.set(str(reason)), Job.waiting_since.set(now), Job.updated_at.set(now),
                            Job.version.add(1), append(entry("waiting", status=JobStatus.QUEUED, message=_why(reason, detail)))]
            Job(job_id, JOB_SK).update(actions=actions, condition=Job.status == JobStatus.QUEUED)
        else:
            Chunk(job_id, chunk_sk(number)).update(
                actions=[Chunk.available_at.set(int(back_at)),
                         *([Chunk.waiting_for.set(str(reason)), Chunk.waiting_since.set(now),
                            *([Chunk.waiting_type.set(type)] if type else [])] if first else [])],
                condition=Chunk.chunk_status == ChunkStatus.PENDING)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def _label(job_id: str, number: int | None) -> str:
    return job_id if number is None else f"{job_id}#{number}"


def waiter_add(*, scope: str, job_id: str, number: int | None, priority: str | None, flow: dict, reason: WaitReason) -> str:
    """Record a waiter next to its limiter (one PutItem); returns its sort key."""
    sk = f"{WAITER_PREFIX}{int(time.time() * 1000):013d}#{_label(job_id, number)}"
    Waiter(scope, sk, job_id=job_id, chunk=number, priority=priority or "normal", reason=str(reason), flow=flow,
           expires_at=WAITER_KEPT).save()
    return sk


def waiter_remove(*, scope: str, sk: str) -> None:
    try:
        Waiter(scope, sk).delete()
    except PynamoDBException as exc:
        logger.info("waiter %s %s not removed (%s); it expires", scope, sk, exc)


def _publish(*, job_id: str, number: int | None, priority: str | None, flow: dict, delay: int = 0) -> None:
    if number is None:
        publishing.job_publish(job_id=job_id, delay_seconds=delay, priority=priority, flow=flow)
    else:
        publishing.chunks_publish(job_id=job_id, numbers=[number], delay_seconds=delay, priority=priority, flow=flow)


def waiters_wake(*, scope: str, reason: WaitReason | None = None, limit: int | None = None) -> int:
    """Publish the oldest waiters of a limiter now (each taken by one conditional DeleteItem); returns how many."""
    woken = 0
    condition = Waiter.reason == str(reason) if reason is not None else None
    try:
        for waiter in Waiter.query(scope, Waiter.sk.startswith(WAITER_PREFIX), filter_condition=condition, consistent_read=True):
            if limit is not None and woken >= limit:
                break
            try:
                waiter.delete(condition=Waiter.sk.exists())
            except DeleteError as exc:
                if is_condition_failure(exc):
                    continue  # another waker took it
                raise
            flow = {**(waiter.flow or {}), "waiter": None}
            _publish(job_id=waiter.job_id, number=int(waiter.chunk) if waiter.chunk is not None else None,
                     priority=waiter.priority, flow=flow)
            woken += 1
    except PynamoDBException as exc:  # their delayed messages come back anyway
        logger.warning("waiters of %s not woken: %s", scope, exc)
    if woken:
        logger.info("woke %s waiter(s) of %s%s", woken, scope, f" ({reason})" if reason else "")
    return woken


def waiters_wake_after_edit(*, type: str, before: Limits, after: Limits) -> int:
    """After staff changed a type's settings: a resume wakes its paused jobs; a raised or removed concurrency limit as many slot waiters."""
    scope, woken = type_scope(type), 0
    if before.paused and not after.paused:
        woken += waiters_wake(scope=scope, reason=WaitReason.PAUSED)
    if before.concurrency_limit is not None and (after.concurrency_limit or 0) != before.concurrency_limit:
        more = None if after.concurrency_limit is None else after.concurrency_limit - before.concurrency_limit
        if more is None or more > 0:
            woken += waiters_wake(scope=scope, reason=WaitReason.CONCURRENCY, limit=more)
    return woken


def unit_wait(
    *, job_id: str, number: int | None, reason: WaitReason, flow: dict, priority: str | None, scope: str | None = None,
    turn: float | None = None, detail: str = "", first_wait: float | None = None,
) -> int | None:
    """Hold a unit back for `reason`: record it, register a waiter (pause, concurrency), send its message again later.

    Returns the delay in seconds, or None when the unit no longer waits (canceled
    meanwhile: nothing is sent). Requests: one SendMessage; the first wait for a
    reason also one UpdateItem (WaitingFor) and, for a pause or a slot, one PutItem;
    then one UpdateItem (AvailableAt) every third of BATCHLAB_STALE_QUEUED_SECONDS.
    """
    waits, now = int(flow.get("waits", 0)), time.time()
    delay = wait_delay(reason, waits=waits, turn_in=None if turn is None else turn - now, policy=policy(), first=first_wait)
    first = flow.get("reason") != str(reason)
    recorded = flow.get("recorded", 0)
    if first or now - recorded > settings.BATCHLAB_STALE_QUEUED_SECONDS / 3:
        if not waiting_record(job_id=job_id, number=number, reason=reason, detail=detail, back_at=now + delay, first=first,
                              type=flow.get("type")):
            return None
        recorded = now
    flow = {**flow, "reason": str(reason), "waits": waits + 1, "turn": turn, "recorded": recorded}
    if reason in (WaitReason.PAUSED, WaitReason.CONCURRENCY) and scope is not None and not flow.get("waiter"):
        flow["waiter"] = [scope, waiter_add(scope=scope, job_id=job_id, number=number, priority=priority,
                                            flow={**flow, "waiter": None}, reason=reason)]
    _publish(job_id=job_id, number=number, priority=priority, flow=flow, delay=delay)
    return delay


def waited_unit_started(flow: dict | None) -> None:
    """A unit that had a waiter registered started: remove the waiter, so that no wake is spent on it."""
    waiter = (flow or {}).get("waiter")
    if waiter:
        waiter_remove(scope=waiter[0], sk=waiter[1])


__all__ = ["policy", "unit_wait", "waited_unit_started", "waiter_add", "waiters_wake", "waiters_wake_after_edit",
           "waiting_record"]
