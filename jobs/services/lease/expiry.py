"""Requeue after expiry, and republish behind the backlog guard: what recovery does to any leased unit, the same way for every kind.

- A unit whose lease ran out (its worker died) goes back to waiting, conditional
  on that very claim and expiry, so of several recoverers one acts.
- A waiting unit not picked up long after it was due is published again, with a
  conditional bump of its AvailableAt and Republished count. Recovery cannot tell
  a lost message from one waiting behind a backlog; republishing every pass would
  add a copy of each waiting message each time (the duplication storm). So each
  republish of a unit waits twice as long as the one before
  (threshold × 2^Republished), and while messages wait visible on the queue once
  more (threshold × 2^(Republished + 1)): a lost message behind a backlog is
  published again within about twice the backlog's age, never paused for as long
  as the backlog lasts, and a unit gets at most log2(age / threshold) copies.
"""

import time

from jobs import queues
from jobs.services.lease.units import JOB, UnitKind
from jobs.services.store import Answer, allowed_by, logger, moves_to, refusal_of, store_retry, utcnow


def backlog_waiting() -> bool:
    """True while messages wait, visible, in the jobs queue (one GetQueueAttributes); False when unreadable."""
    try:
        waiting = queues.queue_counts()["queue"]["visible"]
    except Exception as exc:  # botocore raises many types; the publish will tell
        logger.warning("recovery: queue depth unreadable (%s); republishing as if the queue were empty", exc)
        return False
    return waiting > 0


def republish_due(unit, *, now: float, threshold: float, backlog: bool, since: int | None = None) -> bool:
    """Whether a waiting unit has waited long enough (since it was due) to be published again.

    `since`: a later time it became due than its own record says (a workflow's item step: its chunks were
    written at the submission, its job released, and its chunks published, only when its parents ended).
    """
    copies = int(unit.republished or 0) + (1 if backlog else 0)
    return now - max(int(unit.available_at or 0), int(since or 0)) > threshold * 2 ** copies


def _conditional(unit, actions: list, condition, what: str) -> bool:
    try:
        store_retry(lambda: unit.update(actions=actions, condition=condition, add_version_condition=False), what=what)
    except Exception as exc:
        if refusal_of(exc).answer is Answer.REFUSED:
            return False
        raise
    return True


def unit_requeue_expired(*, kind: UnitKind, unit, now: float, actions: list = ()) -> bool:
    """Processing -> waiting for a unit whose lease ran out, conditional on that very claim (one UpdateItem).

    `actions`: more to set in the same write (a job's timeline entry). A job's
    write is conditional on its version too (its timeline may be rewritten). False
    when it moved meanwhile (renewed, finished, or requeued by another recoverer).
    """
    model = kind.model
    all_actions = [
        *moves_to(kind.expire), model.available_at.set(int(now)), model.lease_owner.remove(),
        model.claim_token.remove(), model.lease_expires_at.remove(), *actions,
    ]
    if kind.versioned:
        all_actions += [model.updated_at.set(utcnow()), model.version.add(1)]
    condition = allowed_by(kind.expire) & (model.claim_token == unit.claim_token) & (model.lease_expires_at < int(now))
    if kind.versioned:
        condition &= model.version == unit.version
    if not _conditional(unit, all_actions, condition, f"requeue of {kind.name} {unit.job_id}"):
        return False
    logger.info("recovery: %s %s lease of %s expired; queued again", kind.name, unit.job_id, unit.lease_owner)
    return True


def unit_mark_republished(*, kind: UnitKind, unit, now: float, actions: list = ()) -> bool:
    """A waiting unit not picked up in time: AvailableAt = now, Republished + 1 (conditional, so one recoverer wins)."""
    model = kind.model
    all_actions = [model.available_at.set(int(now)), model.republished.add(1), *actions]
    condition = (kind.status == kind.waiting) & (model.available_at == unit.available_at)
    if kind is JOB:
        all_actions += [model.updated_at.set(utcnow()), model.version.add(1)]
        condition &= model.version == unit.version
    return _conditional(unit, all_actions, condition, f"republish of {kind.name} {unit.job_id}")


def lease_expired(unit, *, now: float | None = None) -> bool:
    return (unit.lease_expires_at or 0) < (now if now is not None else time.time())
