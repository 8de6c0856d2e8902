"""One try of a delivery: check where it goes, sign, POST, record the outcome, and keep the endpoint's health.

A 2xx within BATCHLAB_WEBHOOK_TIMEOUT_SECONDS is a success. 410 Gone fails the
delivery and disables its endpoint. Anything else (another status, a redirect,
a timeout, a reset, an address refused at this send) is tried again with
backoff until the retry window ends. An endpoint whose tries have all failed for
BATCHLAB_WEBHOOK_DISABLE_AFTER_SECONDS is disabled, with the reason on it.
The endpoint item is written only when its health changes (first failure of a
streak, first success after one, disabled), not at every try.
"""

import time

from django.conf import settings
from pynamodb.exceptions import PynamoDBConnectionError, UpdateError

from jobs import events, metrics
from jobs.services.store import is_condition_failure, logger, utcnow
from jobs.services.webhooks import addresses, sender, signing
from jobs.services.webhooks.deliveries import DeliveryClaim, _attempt, delivery_record, next_try_at
from jobs.services.webhooks.endpoints import CALLBACKS, DISABLED, ENABLED
from jobs.states import DELIVERY_FAIL, DELIVERY_RETRY_LATER, DELIVERY_SUCCEED
from jobs.tables import WebhookEndpoint

E = WebhookEndpoint


def endpoint_read(*, owner: str, hook_id: str) -> WebhookEndpoint | None:
    try:
        return WebhookEndpoint.get(owner, hook_id)
    except WebhookEndpoint.DoesNotExist:
        return None


def delivery_try(*, claim: DeliveryClaim, endpoint: WebhookEndpoint | None = None) -> str:
    """Send the claimed delivery once and record it; returns "delivered", "retrying", "failed" or "lease_lost"."""
    delivery = claim.delivery
    endpoint = endpoint or endpoint_read(owner=delivery.owner, hook_id=delivery.hook_id)
    url = delivery.url or (endpoint.url if endpoint else None) or ""
    if endpoint is None or endpoint.state != ENABLED:
        why = "its endpoint was deleted" if endpoint is None else f"its endpoint is disabled: {endpoint.disabled_reason or ''}".strip()
        attempt = _attempt(claim, url=url or "-", status_code=None, latency_ms=None, error=f"Not sent: {why}", response=None)
        return _recorded(claim, attempt, DELIVERY_FAIL, outcome="failed")
    try:
        target = addresses.target_check(url)
    except addresses.AddressRefused as exc:
        result = sender.SendResult(status_code=None, latency_ms=0, error=f"address refused: {exc}", response="")
    else:
        headers = signing.headers_signed(msg_id=delivery.event_id, body=delivery.body, secrets=signing.signing_secrets(endpoint.secrets))
        result = sender.post(target=target, body=delivery.body, headers=headers)
    attempt = _attempt(claim, url=url, status_code=result.status_code, latency_ms=result.latency_ms, error=result.error,
                       response=result.response)
    metrics.webhook_try_observe(result=result)
    if result.succeeded:
        outcome = _recorded(claim, attempt, DELIVERY_SUCCEED, outcome="delivered")
        _health(endpoint, succeeded=True)
        return outcome
    if result.status_code == 410:
        outcome = _recorded(claim, attempt, DELIVERY_FAIL, outcome="failed")
        if endpoint.kind != CALLBACKS:
            endpoint_disable(endpoint=endpoint, reason=f"{url} answered 410 Gone at {utcnow().isoformat(timespec='seconds')}.")
        return outcome
    next_at = next_try_at(delivery=delivery, now=time.time())
    outcome = (_recorded(claim, attempt, DELIVERY_RETRY_LATER, outcome="retrying", next_at=next_at) if next_at is not None
               else _recorded(claim, attempt, DELIVERY_FAIL, outcome="failed"))
    _health(endpoint, succeeded=False)
    return outcome


def _recorded(claim: DeliveryClaim, attempt, transition, *, outcome: str, next_at: float | None = None) -> str:
    if not delivery_record(claim=claim, attempt=attempt, transition=transition, next_at=next_at):
        return "lease_lost"
    metrics.WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()
    made = events.event_time(claim.delivery.event_id)
    if outcome == "delivered" and made is not None and claim.delivery.attempt_log is not None:
        metrics.WEBHOOK_EVENT_LAG_SECONDS.observe(max(0.0, time.time() - made))
    log = logger.info if outcome != "retrying" else logger.debug
    log("delivery %s %s: attempt %s %s %s", claim.label, outcome, int(claim.delivery.attempts),
        attempt.status_code if attempt.status_code is not None else "-", attempt.error or "")
    return outcome


def _health(endpoint: WebhookEndpoint, *, succeeded: bool) -> None:
    """Write the endpoint only when its health changes: a streak of failures starts or ends, or has lasted too long."""
    if endpoint.kind == CALLBACKS:
        return
    now = time.time()
    try:
        if succeeded and endpoint.failing_since is not None:
            endpoint.update(actions=[E.failing_since.remove(), E.last_success_at.set(utcnow())])
        elif not succeeded and endpoint.failing_since is None:
            endpoint.update(actions=[E.failing_since.set(now)], condition=E.failing_since.does_not_exist())
        elif not succeeded and now - float(endpoint.failing_since) >= settings.BATCHLAB_WEBHOOK_DISABLE_AFTER_SECONDS:
            days = (now - float(endpoint.failing_since)) / 86400
            endpoint_disable(endpoint=endpoint, reason=f"Every try failed for {days:.1f} days (since "
                             f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(float(endpoint.failing_since)))}).")
    except UpdateError as exc:
        if not is_condition_failure(exc):
            logger.warning("webhook %s: health not recorded (%s)", endpoint.hook_id, exc)
    except PynamoDBConnectionError as exc:
        logger.warning("webhook %s: health not recorded (%s)", endpoint.hook_id, exc)


def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str) -> None:
    """Disable the endpoint with the reason its owner sees; its deliveries fail at their next try."""
    try:
        endpoint.update(actions=[E.state.set(DISABLED), E.disabled_reason.set(reason), E.disabled_at.set(utcnow()),
                                 E.version.add(1)], condition=E.state == ENABLED)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return
        raise
    metrics.WEBHOOK_ENDPOINTS_DISABLED.inc()
    logger.warning("webhook %s of %s disabled: %s", endpoint.hook_id, endpoint.owner, reason)
