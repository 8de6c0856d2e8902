"""Webhook endpoints, the writes of their owners: create, change, delete, rotate the secret, and each user's callback secret.

A secret is returned once, by the write that makes it (create, rotate, the first
GET /webhooks/secret); it is kept in the endpoint's item to sign with and never
returned, logged or counted again. A rotation keeps the previous secret signing
beside the new one for BATCHLAB_WEBHOOK_SECRET_OVERLAP_SECONDS.
"""

import hashlib
import os
import time

from django.conf import settings
from pynamodb.exceptions import DeleteError, PutError, PynamoDBConnectionError, QueryError, UpdateError

from jobs import events
from jobs.exceptions import InvalidWebhook, WebhookNotFound, WebhookStateConflict
from jobs.services.store import is_condition_failure, logger, store_error, utcnow
from jobs.services.webhooks import addresses, signing
from jobs.tables import SigningSecret, WebhookEndpoint

ENDPOINT, CALLBACKS = "endpoint", "callbacks"
ENABLED, DISABLED = "enabled", "disabled"
MAX_DESCRIPTION = 500


def callbacks_id(owner: str) -> str:
    """The id of a user's callback-secret record: derived from the name, so one GetItem finds it."""
    return "cb_" + hashlib.sha256(owner.encode()).hexdigest()[:24]


def _new_id() -> str:
    return "we_" + os.urandom(12).hex()


def url_checked(url, *, field: str = "url") -> str:
    """The URL, if a webhook may call it now (form, scheme, resolved addresses); else InvalidWebhook."""
    problems = addresses.url_problems(url)
    if problems:
        raise InvalidWebhook({field: problems})
    try:
        addresses.target_check(url)
    except addresses.AddressRefused as exc:
        raise InvalidWebhook({field: [str(exc)]}) from None
    return url


def events_checked(names, *, field: str = "events", default: tuple | None = None, allowed: tuple = events.EVENT_TYPES) -> list[str]:
    """A non-empty list of event types among `allowed`, in the order given, each once; else InvalidWebhook."""
    if names is None and default is not None:
        return list(default)
    if not isinstance(names, list) or not names:
        raise InvalidWebhook({field: [f"A non-empty list of event types: {', '.join(allowed)}."]})
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise InvalidWebhook({field: [f"Unknown event type {str(unknown[0])[:64]!r}; the types are: {', '.join(allowed)}."]})
    return list(dict.fromkeys(names))


def endpoint_get(*, hook_id: str, owner: str | None) -> WebhookEndpoint:
    """The endpoint, if `owner` may see it (None: staff, who see all, found by the id index); else WebhookNotFound."""
    missing = WebhookNotFound(f"No webhook endpoint {hook_id[:64]}.")
    try:
        if owner is None:
            found = next(iter(WebhookEndpoint.id_index.query(hook_id, limit=1)), None)
            if found is None:
                raise missing
            owner = found.owner
        return WebhookEndpoint.get(owner, hook_id, consistent_read=True)
    except WebhookEndpoint.DoesNotExist:
        raise missing from None
    except (QueryError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc


def endpoint_count(owner: str) -> int:
    try:
        return sum(1 for e in WebhookEndpoint.query(owner) if e.kind == ENDPOINT)
    except (QueryError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc


def webhook_create(*, owner: str, url: str, events_wanted: list, description: str = "") -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint with a fresh secret: (endpoint, secret), the secret's only appearance. One Query, one PutItem."""
    url = url_checked(url)
    wanted = events_checked(events_wanted)
    if endpoint_count(owner) >= settings.BATCHLAB_WEBHOOK_MAX_ENDPOINTS:
        raise WebhookStateConflict(f"At most {settings.BATCHLAB_WEBHOOK_MAX_ENDPOINTS} webhook endpoints per user.")
    now = utcnow()
    secret = signing.secret_new()
    endpoint = WebhookEndpoint(
        owner=owner, hook_id=_new_id(), kind=ENDPOINT, url=url, events=wanted, description=(description or "")[:MAX_DESCRIPTION],
        state=ENABLED, secrets=[SigningSecret(secret=secret, created_at=now)], created_at=now, updated_at=now,
    )
    try:
        endpoint.save(condition=WebhookEndpoint.hook_id.does_not_exist())
    except (PutError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc
    logger.info("webhook %s created by %s: %s for %s", endpoint.hook_id, owner, url, ",".join(wanted))
    return endpoint, secret


def webhook_update(*, owner: str | None, hook_id: str, changes: dict) -> WebhookEndpoint:
    """Change url, events, description, or enabled (True re-enables a disabled endpoint and clears why). One conditional UpdateItem."""
    endpoint = endpoint_get(owner=owner, hook_id=hook_id)
    if endpoint.kind != ENDPOINT:
        raise WebhookStateConflict("The callback secret has no URL or events to change; rotate it instead.")
    actions = [WebhookEndpoint.updated_at.set(utcnow()), WebhookEndpoint.version.add(1)]
    if "url" in changes:
        actions.append(WebhookEndpoint.url.set(url_checked(changes["url"])))
    if "events" in changes:
        actions.append(WebhookEndpoint.events.set(events_checked(changes["events"])))
    if "description" in changes:
        actions.append(WebhookEndpoint.description.set(str(changes["description"] or "")[:MAX_DESCRIPTION]))
    if "enabled" in changes:
        if changes["enabled"]:
            actions += [WebhookEndpoint.state.set(ENABLED), WebhookEndpoint.disabled_reason.remove(),
                        WebhookEndpoint.disabled_at.remove(), WebhookEndpoint.failing_since.remove()]
        else:
            actions += [WebhookEndpoint.state.set(DISABLED), WebhookEndpoint.disabled_reason.set("Disabled by its owner."),
                        WebhookEndpoint.disabled_at.set(utcnow())]
    try:
        endpoint.update(actions=actions, condition=WebhookEndpoint.version == endpoint.version, add_version_condition=False)
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise WebhookStateConflict(f"Webhook endpoint {hook_id} changed meanwhile; try again.") from None
        raise store_error(exc) from exc
    return endpoint


def webhook_delete(*, owner: str | None, hook_id: str) -> None:
    """Delete the endpoint; its deliveries stay (until their retention) and fail at their next try."""
    endpoint = endpoint_get(owner=owner, hook_id=hook_id)
    try:
        endpoint.delete()
    except (DeleteError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc
    logger.info("webhook %s deleted by %s", hook_id, owner)


def _rotated(endpoint: WebhookEndpoint, now) -> tuple[list, str]:
    """A new secret first; the previous ones kept until the overlap ends (those expired already are dropped)."""
    secret = signing.secret_new()
    until = time.time() + settings.BATCHLAB_WEBHOOK_SECRET_OVERLAP_SECONDS
    kept = []
    for old in endpoint.secrets or []:
        expires = until if old.expires_at is None else min(float(old.expires_at), until)
        if expires > time.time():
            kept.append(SigningSecret(secret=old.secret, created_at=old.created_at, expires_at=expires))
    return [SigningSecret(secret=secret, created_at=now), *kept], secret


def webhook_rotate_secret(*, owner: str | None, hook_id: str) -> tuple[WebhookEndpoint, str]:
    """A new secret for the endpoint (or the callback secret): (endpoint, secret), shown once; the old one signs 24 h more."""
    endpoint = endpoint_get(owner=owner, hook_id=hook_id)
    now = utcnow()
    secrets, secret = _rotated(endpoint, now)
    try:
        endpoint.update(
            actions=[WebhookEndpoint.secrets.set(secrets), WebhookEndpoint.updated_at.set(now), WebhookEndpoint.version.add(1)],
            condition=WebhookEndpoint.version == endpoint.version, add_version_condition=False,
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise WebhookStateConflict(f"Webhook endpoint {hook_id} changed meanwhile; try again.") from None
        raise store_error(exc) from exc
    logger.info("webhook %s: secret rotated by %s", hook_id, owner)
    return endpoint, secret


def callback_secret_ensure(*, owner: str) -> tuple[WebhookEndpoint, str | None]:
    """The user's callback secret record, made on first use: (record, secret) when made now, (record, None) after."""
    hook_id = callbacks_id(owner)
    try:
        return WebhookEndpoint.get(owner, hook_id, consistent_read=True), None
    except WebhookEndpoint.DoesNotExist:
        pass
    except PynamoDBConnectionError as exc:
        raise store_error(exc) from exc
    now = utcnow()
    secret = signing.secret_new()
    record = WebhookEndpoint(owner=owner, hook_id=hook_id, kind=CALLBACKS, events=[], state=ENABLED,
                             description="Signs the callbacks of the jobs that name a \"webhook\".",
                             secrets=[SigningSecret(secret=secret, created_at=now)], created_at=now, updated_at=now)
    try:
        record.save(condition=WebhookEndpoint.hook_id.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):  # made by a concurrent first use: that one showed it
            return WebhookEndpoint.get(owner, hook_id, consistent_read=True), None
        raise store_error(exc) from exc
    except PynamoDBConnectionError as exc:
        raise store_error(exc) from exc
    return record, secret


def callback_secret_exists(*, owner: str) -> bool:
    try:
        WebhookEndpoint.get(owner, callbacks_id(owner), consistent_read=True, attributes_to_get=["HookId"])
    except WebhookEndpoint.DoesNotExist:
        return False
    except PynamoDBConnectionError as exc:
        raise store_error(exc) from exc
    return True
