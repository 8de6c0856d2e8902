"""Reads of webhooks: endpoints (a user's, or all for staff), an endpoint's deliveries newest first, a job's deliveries, the backlog."""

from dataclasses import dataclass

from django.core import signing
from pynamodb.exceptions import PynamoDBConnectionError, QueryError

from jobs import queues
from jobs.exceptions import InvalidCursor, StoreUnavailable, WebhookNotFound
from jobs.states import DeliveryStatus
from jobs.tables import ALL_SHARD, DUE_SHARD, WebhookDelivery, WebhookEndpoint

_CURSOR_SALT = "batchlab.webhooks.cursor"
ENDPOINT = "endpoint"


def webhooks_list(*, owner: str | None) -> list[WebhookEndpoint]:
    """The subscriptions `owner` may see (None: staff, every user's), oldest first; callback secrets are not listed."""
    try:
        records = WebhookEndpoint.query(owner, consistent_read=True) if owner is not None else WebhookEndpoint.all_index.query(ALL_SHARD)
        return [r for r in records if r.kind == ENDPOINT]
    except (QueryError, PynamoDBConnectionError) as exc:
        raise StoreUnavailable() from exc


def webhook_get(*, hook_id: str, owner: str | None) -> WebhookEndpoint:
    """The endpoint (or callback secret record), if `owner` may see it (None: staff); else WebhookNotFound."""
    try:
        if owner is None:
            found = next(iter(WebhookEndpoint.id_index.query(hook_id, limit=1)), None)
            if found is None:
                raise WebhookNotFound(f"No webhook endpoint {hook_id[:64]}.")
            owner = found.owner
        return WebhookEndpoint.get(owner, hook_id)
    except WebhookEndpoint.DoesNotExist:
        raise WebhookNotFound(f"No webhook endpoint {hook_id[:64]}.") from None
    except (QueryError, PynamoDBConnectionError) as exc:
        raise StoreUnavailable() from exc


@dataclass
class DeliveryPage:
    items: list[WebhookDelivery]
    next_cursor: str | None


def deliveries_list(*, endpoint: WebhookEndpoint, status: str | None = None, limit: int = 20,
                    cursor: str | None = None) -> DeliveryPage:
    """An endpoint's deliveries, newest first (event ids sort by time), optionally of one status; an opaque cursor."""
    last_key = None
    if cursor:
        try:
            data = signing.loads(cursor, salt=_CURSOR_SALT)
        except (signing.BadSignature, ValueError, TypeError):
            raise InvalidCursor() from None
        if not isinstance(data, dict) or data.get("h") != endpoint.hook_id or data.get("s") != status:
            raise InvalidCursor("The cursor belongs to another listing.")
        last_key = data["k"]
    try:
        results = WebhookDelivery.query(
            endpoint.hook_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key,
            filter_condition=(WebhookDelivery.status == status) if status else None, page_size=limit if not status else 100,
        )
        items = list(results)
        next_key = results.last_evaluated_key if len(items) == limit else None
    except (QueryError, PynamoDBConnectionError) as exc:
        raise StoreUnavailable() from exc
    next_cursor = signing.dumps({"k": next_key, "h": endpoint.hook_id, "s": status}, salt=_CURSOR_SALT) if next_key else None
    return DeliveryPage(items=items, next_cursor=next_cursor)


def job_deliveries(*, job_id: str, limit: int = 100) -> list[WebhookDelivery]:
    """Every delivery of a job's events, oldest first (the caller has checked the job is visible)."""
    try:
        return list(WebhookDelivery.job_index.query(job_id, limit=limit))
    except (QueryError, PynamoDBConnectionError) as exc:
        raise StoreUnavailable() from exc


def webhooks_backlog() -> dict:
    """Unfinished deliveries (one COUNT Query of the sparse due index) and the webhooks queue's depth: /metrics' gauges."""
    try:
        unfinished = WebhookDelivery.due_index.count(DUE_SHARD)
    except (QueryError, PynamoDBConnectionError) as exc:
        raise StoreUnavailable() from exc
    return {"unfinished": unfinished, "queue": queues.webhooks_queue_depth()}


DELIVERY_STATUSES = tuple(s.value for s in DeliveryStatus)
