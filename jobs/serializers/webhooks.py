"""Webhooks over HTTP: the bodies of POST/PATCH /webhooks, and the shapes of an endpoint, a secret, a delivery and its attempts.

As for jobs, each response shape is a serializer (for the OpenAPI document) and
a plain function that builds it. No shape has a field for a secret except the
answers of the writes that make one (create, rotate-secret, the first GET
/webhooks/secret).
"""

import time
from datetime import datetime, timezone

from rest_framework import serializers

from jobs.documents import iso
from jobs.events import EVENT_TYPES
from jobs.states import DeliveryStatus

EVENTS_HELP = f"Event types: {', '.join(EVENT_TYPES)}."


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=2048, help_text="https:// (http:// in the embedded mode only); no redirects are followed.")
    events = serializers.ListField(child=serializers.CharField(max_length=64), help_text=EVENTS_HELP)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        values = super().to_internal_value(data)
        if unknown:
            raise serializers.ValidationError({k: [f"Unknown field; the fields are {', '.join(self.fields)}."] for k in unknown})
        return values


class WebhookUpdateSerializer(WebhookCreateSerializer):
    url = serializers.CharField(max_length=2048, required=False)
    events = serializers.ListField(child=serializers.CharField(max_length=64), required=False, help_text=EVENTS_HELP)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False, help_text="false disables the endpoint; true enables it again.")


class DeliveryListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[s.value for s in DeliveryStatus], required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    cursor = serializers.CharField(required=False)


class WebhookSerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField(allow_null=True, help_text="Null for the callback secret: each job names its own URL.")
    kind = serializers.ChoiceField(choices=["endpoint", "callbacks"])
    events = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    owner = serializers.CharField()
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField(allow_null=True, help_text="Why it was disabled (410 Gone, failing for days, its owner).")
    disabled_at = serializers.DateTimeField(allow_null=True)
    failing_since = serializers.DateTimeField(allow_null=True, help_text="The first failed try since the last success.")
    last_success_at = serializers.DateTimeField(allow_null=True)
    signing_secrets = serializers.IntegerField(help_text="How many secrets sign now (2 during a rotation's overlap).")
    secret_rotated_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(allow_null=True, help_text="whsec_…: shown in this answer only; store it now.")


class WebhookListSerializer(serializers.Serializer):
    results = WebhookSerializer(many=True)


class DeliveryAttemptSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    url = serializers.CharField()
    status_code = serializers.IntegerField(allow_null=True, help_text="Null: no HTTP answer (timeout, reset, refused address).")
    latency_ms = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    response = serializers.CharField(allow_null=True, help_text="The first 1 KB of the answer.")


class DeliverySerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The event id: the webhook-id header, the same at every try.")
    webhook_id = serializers.CharField()
    url = serializers.CharField(help_text="This delivery's path.")
    event_type = serializers.CharField()
    job_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=[s.value for s in DeliveryStatus])
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    retry_until = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    attempt_log = DeliveryAttemptSerializer(many=True)


class DeliveryDetailSerializer(DeliverySerializer):
    body = serializers.CharField(help_text="The signed body, as sent at every try.")


class DeliveryPageSerializer(serializers.Serializer):
    results = DeliverySerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class DeliveryListSerializer(serializers.Serializer):
    results = DeliverySerializer(many=True)


def _epoch(value):
    return iso(datetime.fromtimestamp(float(value), tz=timezone.utc)) if value is not None else None


def webhook_shape(endpoint, *, secret: str | None = None, with_secret: bool = False) -> dict:
    """An endpoint (WebhookSerializer), with `secret` only in the answer of the write that made it."""
    now = time.time()
    signing = [s for s in (endpoint.secrets or []) if s.expires_at is None or float(s.expires_at) > now]
    data = {
        "id": endpoint.hook_id, "url": endpoint.url, "kind": endpoint.kind, "events": list(endpoint.events or []),
        "description": endpoint.description or "", "owner": endpoint.owner, "enabled": endpoint.state == "enabled",
        "disabled_reason": endpoint.disabled_reason, "disabled_at": iso(endpoint.disabled_at),
        "failing_since": _epoch(endpoint.failing_since), "last_success_at": iso(endpoint.last_success_at),
        "signing_secrets": len(signing), "secret_rotated_at": iso(endpoint.secrets[0].created_at) if endpoint.secrets else None,
        "created_at": iso(endpoint.created_at), "updated_at": iso(endpoint.updated_at),
    }
    if with_secret:
        data["secret"] = secret
    return data


def delivery_shape(delivery, *, detail: bool = False) -> dict:
    """A delivery with its attempts (DeliverySerializer; with `body`: DeliveryDetailSerializer)."""
    data = {
        "id": delivery.event_id, "webhook_id": delivery.hook_id,
        "url": f"/webhooks/{delivery.hook_id}/deliveries/{delivery.event_id}", "event_type": delivery.event_type,
        "job_id": delivery.job_id, "status": delivery.status, "attempts": int(delivery.attempts or 0),
        "next_attempt_at": _epoch(delivery.next_attempt_at) if delivery.status in ("PENDING", "SENDING") else None,
        "retry_until": _epoch(delivery.retry_until), "created_at": iso(delivery.created_at), "finished_at": iso(delivery.finished_at),
        "attempt_log": [
            {"at": iso(a.at), "url": a.url, "status_code": int(a.status_code) if a.status_code is not None else None,
             "latency_ms": int(a.latency_ms) if a.latency_ms is not None else None, "error": a.error, "response": a.response}
            for a in (delivery.attempt_log or [])
        ],
    }
    if detail:
        data["body"] = delivery.body
    return data
