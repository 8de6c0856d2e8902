"""What a user asks of deliveries: a test ping to an endpoint, and a delivery sent again."""

import json
import time

from django.conf import settings
from pynamodb.exceptions import PutError, PynamoDBConnectionError, UpdateError

from jobs import events
from jobs.documents import iso
from jobs.exceptions import DeliveryNotFound, QueueUnavailable, WebhookStateConflict
from jobs.services.store import is_condition_failure, logger, store_error, utcnow
from jobs.services.webhooks.deliveries import D, delivery_new
from jobs.services.webhooks.endpoints import ENDPOINT, endpoint_get
from jobs.services.webhooks.messages import deliver_publish
from jobs.states import DELIVERY_REDELIVER, DeliveryStatus
from jobs.tables import DUE_SHARD, WebhookDelivery


def webhook_test(*, hook_id: str, owner: str | None) -> WebhookDelivery:
    """Queue a `ping` event to the endpoint (one PutItem, one SendMessage); it is delivered, retried and listed like any other."""
    endpoint = endpoint_get(hook_id=hook_id, owner=owner)
    if endpoint.kind != ENDPOINT:
        raise WebhookStateConflict("The callback secret has no URL to ping; each job names its own.")
    now = time.time()
    event_id = events.new_event_id(now=now)
    body = json.dumps({"type": events.PING, "timestamp": iso(utcnow()),
                       "data": {"webhook_id": endpoint.hook_id, "url": endpoint.url, "message": "A test event from BatchLab."}},
                      separators=(",", ":"))
    delivery, _ = delivery_new(hook_id=endpoint.hook_id, owner=endpoint.owner, event_id=event_id, event_type=events.PING,
                               body=body, now=now)
    try:
        delivery.save(condition=WebhookDelivery.event_id.does_not_exist())
    except (PutError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc
    _publish(delivery)
    return delivery


def _publish(delivery: WebhookDelivery) -> None:
    try:
        deliver_publish(hook_id=delivery.hook_id, event_id=delivery.event_id)
    except QueueUnavailable:
        pass  # stored PENDING and due: the due sweep publishes it within BATCHLAB_WEBHOOK_STALE_SECONDS


def delivery_get(*, hook_id: str, event_id: str, owner: str | None) -> WebhookDelivery:
    endpoint = endpoint_get(hook_id=hook_id, owner=owner)
    try:
        return WebhookDelivery.get(endpoint.hook_id, event_id, consistent_read=True)
    except WebhookDelivery.DoesNotExist:
        raise DeliveryNotFound(f"No delivery {event_id[:64]} for webhook {hook_id[:64]}.") from None
    except PynamoDBConnectionError as exc:
        raise store_error(exc) from exc


def delivery_redeliver(*, hook_id: str, event_id: str, owner: str | None, actor: str) -> WebhookDelivery:
    """DELIVERED or FAILED -> PENDING, due now, with a fresh retry window; the same webhook-id and body. Else WebhookStateConflict."""
    delivery = delivery_get(hook_id=hook_id, event_id=event_id, owner=owner)
    if not DELIVERY_REDELIVER.allows(delivery.status):
        raise WebhookStateConflict(f"Delivery {event_id} is {delivery.status}: it is being tried already.",
                                   extra={"delivery_status": delivery.status})
    now = time.time()
    try:
        delivery.update(
            actions=[D.status.set(DELIVERY_REDELIVER.target), D.next_attempt_at.set(now), D.finished_at.remove(),
                     D.retry_until.set(now + settings.BATCHLAB_WEBHOOK_RETRY_WINDOW_SECONDS), D.due_shard.set(DUE_SHARD),
                     D.due_at.set(int(now) + settings.BATCHLAB_WEBHOOK_STALE_SECONDS), D.updated_at.set(utcnow())],
            condition=D.status == delivery.status,
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise WebhookStateConflict(f"Delivery {event_id} changed meanwhile; try again.") from None
        raise store_error(exc) from exc
    logger.info("delivery %s/%s: redelivery asked by %s", hook_id, event_id, actor)
    _publish(delivery)
    return delivery


__all__ = ["DeliveryStatus", "delivery_get", "delivery_redeliver", "webhook_test"]
