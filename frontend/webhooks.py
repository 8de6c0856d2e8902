"""The Webhooks pages: my endpoints with a create form (the secret shown once), one endpoint with test, rotate, enable/disable, delete and its delivery log with redeliver.

Every write goes through the same services as /webhooks; a secret appears only
in the answer of the POST that made it (rendered, never redirected to or stored).
So that a refresh of that answer (the browser sends the POST again) makes no
second endpoint, each create form carries a one-time id: the session remembers
the ids it made endpoints for (never their secrets), and a form sent again is
answered with the endpoint it made.
"""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from jobs import selectors
from jobs.events import EVENT_TYPES, FINAL_EVENTS
from jobs.exceptions import InvalidWebhook, JobError, WebhookNotFound
from jobs.serializers.webhooks import delivery_shape, webhook_shape
from jobs.services import webhooks as services


SENT_FORMS = "webhook_forms_sent"  # session key: form id -> the endpoint it made
KEPT_FORMS = 20


def _owner(request) -> str | None:
    return None if request.user.is_staff else request.user.username


def _not_found(request):
    return render(request, "frontend/error.html", {"title": "Webhook not found",
                                                   "detail": "There is no such webhook endpoint among those you can see."}, status=404)


@login_required
@require_http_methods(["GET", "POST"])
def webhooks_page(request):
    """My endpoints (staff: all) and the create form; a created endpoint's secret is shown in this answer only."""
    errors, values, created, status = {}, {"events": list(FINAL_EVENTS)}, None, 200
    sent = request.session.get(SENT_FORMS, {})
    form_id = request.POST.get("form_id", "") if request.method == "POST" else ""
    if form_id in sent:  # this form made an endpoint already (a refresh, a double click): not a second one
        messages.info(request, f"This form was sent already: it made endpoint {sent[form_id]} (its secret was shown "
                               "once; rotate it on the endpoint's page for a new one).")
        return redirect("ui-webhook", hook_id=sent[form_id])
    if request.method == "POST":
        values = {"url": request.POST.get("url", "").strip(), "events": request.POST.getlist("events"),
                  "description": request.POST.get("description", "").strip()}
        try:
            endpoint, secret = services.webhook_create(owner=request.user.username, url=values["url"],
                                                       events_wanted=values["events"], description=values["description"])
        except InvalidWebhook as exc:
            errors, status = exc.errors, 400
        except JobError as exc:
            errors, status = {"non_field_errors": [exc.detail]}, 400
        else:
            created, values = webhook_shape(endpoint, secret=secret, with_secret=True), {"events": list(FINAL_EVENTS)}
            if form_id:
                request.session[SENT_FORMS] = {**dict(list(sent.items())[-(KEPT_FORMS - 1):]), form_id: endpoint.hook_id}
    try:
        endpoints = [webhook_shape(e) for e in selectors.webhooks_list(owner=_owner(request))]
    except JobError as exc:
        return render(request, "frontend/error.html", {"title": "Webhooks unavailable", "detail": exc.detail}, status=503)
    return render(request, "frontend/webhooks.html", {"endpoints": endpoints, "event_types": EVENT_TYPES, "errors": errors,
                                                      "values": values, "created": created,
                                                      "form_id": form_id if errors else uuid.uuid4().hex}, status=status)


@login_required
def webhook_page(request, hook_id: str, *, secret: str | None = None):
    """One endpoint: its state (and why it is disabled), its actions, and its last deliveries with every attempt."""
    try:
        endpoint = selectors.webhook_get(hook_id=hook_id, owner=_owner(request))
        page = selectors.deliveries_list(endpoint=endpoint, limit=50)
    except WebhookNotFound:
        return _not_found(request)
    except JobError as exc:
        return render(request, "frontend/error.html", {"title": "Webhook unavailable", "detail": exc.detail}, status=503)
    return render(request, "frontend/webhook.html", {"hook": webhook_shape(endpoint), "secret": secret,
                                                     "deliveries": [delivery_shape(d) for d in page.items]})


@login_required
@require_POST
def webhook_action(request, hook_id: str, action: str):
    """test, rotate (renders the new secret once), enable, disable, delete; redeliver takes `delivery`."""
    owner = _owner(request)
    try:
        if action == "rotate":
            _, secret = services.webhook_rotate_secret(owner=owner, hook_id=hook_id)
            messages.success(request, "A new secret: the old one still signs for 24 hours.")
            return webhook_page(request, hook_id, secret=secret)
        if action == "test":
            delivery = services.webhook_test(hook_id=hook_id, owner=owner)
            messages.success(request, f"Ping queued ({delivery.event_id}); it appears below once sent.")
        elif action in ("enable", "disable"):
            services.webhook_update(owner=owner, hook_id=hook_id, changes={"enabled": action == "enable"})
            messages.success(request, "Enabled." if action == "enable" else "Disabled: nothing is sent until enabled again.")
        elif action == "redeliver":
            services.delivery_redeliver(hook_id=hook_id, event_id=request.POST.get("delivery", ""), owner=owner,
                                        actor=request.user.username)
            messages.success(request, "Sent again, with the same webhook-id.")
        elif action == "delete":
            services.webhook_delete(owner=owner, hook_id=hook_id)
            messages.success(request, "Webhook deleted.")
            return redirect("ui-webhooks")
        else:
            return _not_found(request)
    except WebhookNotFound:
        return _not_found(request)
    except JobError as exc:
        messages.error(request, exc.detail)
    return redirect("ui-webhook", hook_id=hook_id)


def job_deliveries(job_id: str) -> list[dict]:
    """A job's deliveries for its page (empty when the store cannot say: the page shows the job anyway)."""
    try:
        return [delivery_shape(d) for d in selectors.job_deliveries(job_id=job_id)]
    except JobError:
        return []
