"""A delivery, the leased unit of webhooks: claimed by one delivery worker at a time, tried, and recorded with its outcome.

A claim is one conditional UpdateItem (a due PENDING delivery, or a SENDING one
whose lease ran out -> SENDING with a lease and a fresh token); the try's record
is one UpdateItem fenced by that token. Between tries a delivery waits PENDING:
up to 15 minutes on an SQS delay, longer parked on the due index until the
scheduler's tick releases it (a Celery countdown would hold the message in a
worker's memory). DueShard/DueAt say when someone must act on an unfinished
delivery (its next try, its lease's end, or a message lost), so one Query finds
every delivery that needs a message (`deliveries_release_due`).
"""

import math
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from pynamodb.exceptions import PynamoDBConnectionError, QueryError, UpdateError

from jobs import metrics
from jobs.exceptions import QueueUnavailable
from jobs.services.store import is_condition_failure, logger, store_error, store_retry, utcnow
from jobs.services.webhooks.messages import deliver_publish
from jobs.states import (
    DELIVERY_CLAIM,
    DELIVERY_RETRY_LATER,
    DeliveryStatus,
    Transition,
    is_delivery_final,
)
from jobs.tables import DUE_SHARD, DeliveryAttempt, WebhookDelivery

D = WebhookDelivery
SQS_DELAY_LIMIT = 900


@dataclass
class DeliveryClaim:
    """What a delivery worker holds while it tries a delivery: the delivery as claimed and the token fencing its record."""

    delivery: WebhookDelivery
    token: str
    worker: str

    @property
    def label(self) -> str:
        return f"{self.delivery.hook_id}/{self.delivery.event_id}"


def _lease_deadline(now: float) -> int:
    return int(now) + settings.BATCHLAB_WEBHOOK_LEASE_SECONDS


def delivery_new(*, hook_id: str, owner: str, event_id: str, event_type: str, body: str, job_id: str | None = None,
                 url: str | None = None, now: float | None = None, claim_for: str | None = None) -> tuple[WebhookDelivery, str | None]:
    """A delivery item, unsaved: PENDING and due now, or (claim_for=worker) already SENDING for that worker, with its token."""
    now = time.time() if now is None else now
    stamp = utcnow()
    delivery = WebhookDelivery(
        hook_id=hook_id, event_id=event_id, event_type=event_type, owner=owner, job_id=job_id, url=url, body=body,
        status=DeliveryStatus.PENDING, attempts=0, attempt_log=[], next_attempt_at=now,
        retry_until=now + settings.BATCHLAB_WEBHOOK_RETRY_WINDOW_SECONDS, due_shard=DUE_SHARD,
        due_at=int(now) + settings.BATCHLAB_WEBHOOK_STALE_SECONDS, created_at=stamp, updated_at=stamp,
        expires_at=timedelta(days=settings.BATCHLAB_RETENTION_DAYS) + timedelta(seconds=settings.BATCHLAB_WEBHOOK_RETRY_WINDOW_SECONDS),
    )
    token = None
    if claim_for:
        token = uuid.uuid4().hex
        delivery.status, delivery.attempts = DeliveryStatus.SENDING, 1
        delivery.lease_owner, delivery.claim_token = claim_for, token
        delivery.lease_expires_at = _lease_deadline(now)
        delivery.due_at = delivery.lease_expires_at + 1
    return delivery, token


def delivery_claim(*, hook_id: str, event_id: str, worker: str) -> DeliveryClaim | str:
    """Claim the delivery for one try; else why not: "missing", "final", "busy" (a live lease) or "not_due" (an early message).

    One conditional UpdateItem returning the delivery; a refusal costs one GetItem.
    """
    now = time.time()
    token = uuid.uuid4().hex
    delivery = WebhookDelivery(hook_id, event_id)
    due = (D.status == DeliveryStatus.PENDING) & (D.next_attempt_at <= now + 1)
    expired = (D.status == DeliveryStatus.SENDING) & (D.lease_expires_at < int(now))
    lease = _lease_deadline(now)
    try:
        store_retry(lambda: delivery.update(
            actions=[
                D.status.set(DELIVERY_CLAIM.target), D.attempts.add(1), D.lease_owner.set(worker), D.claim_token.set(token),
                D.lease_expires_at.set(lease), D.due_at.set(lease + 1), D.updated_at.set(utcnow()),
            ],
            condition=D.event_id.exists() & (due | expired),
        ), what=f"claim of delivery {hook_id}/{event_id}")
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        try:
            seen = WebhookDelivery.get(hook_id, event_id, consistent_read=True)
        except WebhookDelivery.DoesNotExist:
            return "missing"
        if seen.claim_token == token:  # applied, its answer lost; the SDK's retry was refused by the claim itself
            return DeliveryClaim(delivery=seen, token=token, worker=worker)
        if is_delivery_final(seen.status):
            return "final"
        return "busy" if seen.status == DeliveryStatus.SENDING else "not_due"
    return DeliveryClaim(delivery=delivery, token=token, worker=worker)


def retry_delay(*, attempt: int) -> float:
    """Exponential backoff with jitter: uniform(ceiling / 2, ceiling), ceiling = min(max, base * 2**(attempt-1))."""
    ceiling = min(settings.BATCHLAB_WEBHOOK_RETRY_MAX_SECONDS, settings.BATCHLAB_WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)


def next_try_at(*, delivery: WebhookDelivery, now: float) -> float | None:
    """When to try again after a failed try (None: that was the last). The window's end gets one last try."""
    until = float(delivery.retry_until)
    at = now + retry_delay(attempt=int(delivery.attempts))
    if at <= until:
        return at
    return until if now < until - 1 else None


def _attempt(claim: DeliveryClaim, *, url: str, status_code, latency_ms, error, response) -> DeliveryAttempt:
    return DeliveryAttempt(at=utcnow(), url=url, status_code=status_code, latency_ms=latency_ms, error=error,
                           response=(response or "")[:settings.BATCHLAB_WEBHOOK_MAX_RESPONSE_BYTES] or None, worker=claim.worker)


def delivery_record(*, claim: DeliveryClaim, attempt: DeliveryAttempt, transition: Transition, next_at: float | None = None) -> bool:
    """Record one try and move the delivery (fenced by the claim's token): DELIVERED, PENDING until `next_at`, or FAILED.

    One UpdateItem; False when the claim was taken over meanwhile (its record is
    left out: the new holder's stands). A PENDING delivery gets its next message
    here (an SQS delay up to 15 minutes; beyond that it waits parked on the due index).
    """
    now = time.time()
    actions = [D.status.set(transition.target), D.attempt_log.set(D.attempt_log.append([attempt])), D.lease_expires_at.remove(),
               D.lease_owner.remove(), D.updated_at.set(utcnow())]
    if transition is DELIVERY_RETRY_LATER:
        delay = max(0.0, next_at - now)
        parked = delay > SQS_DELAY_LIMIT
        actions += [D.next_attempt_at.set(now + math.ceil(delay) if not parked else next_at),
                    D.due_at.set(int(next_at) if parked else int(next_at) + settings.BATCHLAB_WEBHOOK_STALE_SECONDS)]
    else:
        actions += [D.finished_at.set(utcnow()), D.next_attempt_at.remove(), D.due_shard.remove(), D.due_at.remove()]
    try:
        store_retry(lambda: claim.delivery.update(actions=actions, condition=(D.status == DeliveryStatus.SENDING) & (D.claim_token == claim.token)),
                    what=f"record of delivery {claim.label}")
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        seen = WebhookDelivery.get(claim.delivery.hook_id, claim.delivery.event_id, consistent_read=True)
        if seen.claim_token == claim.token and seen.status == transition.target:
            return True  # applied, its answer lost
        logger.warning("delivery %s: the claim of %s was taken over; its record is left out", claim.label, claim.worker)
        return False
    if transition is DELIVERY_RETRY_LATER and not parked:
        try:
            deliver_publish(hook_id=claim.delivery.hook_id, event_id=claim.delivery.event_id, delay_seconds=math.ceil(delay))
        except QueueUnavailable:
            pass  # the due index has it: released again once its DueAt passes
    return True


def deliveries_release_due(*, now: float | None = None, limit: int = 100) -> list[str]:
    """Publish every unfinished delivery whose DueAt passed: a parked retry now due, a lost message, an expired lease.

    One Query on the due index; for each, one conditional UpdateItem moving DueAt
    on (so one of several callers publishes it) and one SendMessage. Safe on every
    machine at once; a message more than needed is refused at the claim.
    """
    now = time.time() if now is None else now
    released = []
    try:
        due = list(WebhookDelivery.due_index.query(DUE_SHARD, D.due_at <= int(now), limit=limit))
    except (QueryError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc
    for key in due:
        try:
            key.update(actions=[D.due_at.set(int(now) + settings.BATCHLAB_WEBHOOK_STALE_SECONDS)],
                       condition=(D.due_at == key.due_at) & D.due_shard.exists())
        except UpdateError as exc:
            if is_condition_failure(exc):
                continue
            raise
        try:
            deliver_publish(hook_id=key.hook_id, event_id=key.event_id)
        except QueueUnavailable:
            continue
        released.append(f"{key.hook_id}/{key.event_id}")
    if released:
        logger.info("webhooks: %d deliveries published again (due, or their message lost): %s", len(released), released[:10])
        metrics.WEBHOOK_RELEASED.inc(len(released))
    return released
