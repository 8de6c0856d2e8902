"""PynamoDB models of webhook endpoints (table `batchlab-webhooks`) and their deliveries (table `batchlab-webhook-deliveries`): schema only.

An endpoint is a subscription (a URL and the events it wants) or, with Kind
"callbacks", a user's signing secret for the per-job callbacks (`"webhook"` on a
job); both hold their signing secrets. A delivery is one event to one endpoint: a
leased unit (status, lease, fencing token) with every attempt it made, keyed by
the endpoint and the event id (the `webhook-id` header, stable across retries).
"""

from django.conf import settings
from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from jobs.tables.jobs import ALL_SHARD, DUE_SHARD, _TableMeta


class SigningSecret(MapAttribute):
    """One `whsec_…` secret; ExpiresAt is set on the previous one when a rotation replaces it (both sign until then)."""

    secret = UnicodeAttribute(attr_name="Secret")
    created_at = UTCDateTimeAttribute(attr_name="CreatedAt")
    expires_at = NumberAttribute(attr_name="ExpiresAt", null=True)


class EndpointIdIndex(GlobalSecondaryIndex):
    """An endpoint by its id alone (staff, who do not know its owner)."""

    class Meta:
        index_name = "HookId"
        projection = AllProjection()

    hook_id = UnicodeAttribute(hash_key=True, attr_name="HookId")


class EndpointAllIndex(GlobalSecondaryIndex):
    """Every endpoint (staff), oldest first."""

    class Meta:
        index_name = "AllCreatedAt"
        projection = AllProjection()

    list_shard = UnicodeAttribute(hash_key=True, attr_name="ListShard")
    created_at = UTCDateTimeAttribute(range_key=True, attr_name="CreatedAt")


class WebhookEndpoint(Model):
    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_WEBHOOKS_TABLE_NAME

    # Keyed by owner first: a user's endpoints are one consistent Query (a submission
    # sees an endpoint created a moment before it).
    owner = UnicodeAttribute(hash_key=True, attr_name="Owner")
    hook_id = UnicodeAttribute(range_key=True, attr_name="HookId")
    kind = UnicodeAttribute(attr_name="Kind")  # "endpoint" | "callbacks"
    list_shard = UnicodeAttribute(attr_name="ListShard", default=ALL_SHARD)
    url = UnicodeAttribute(attr_name="Url", null=True)  # none on a "callbacks" record: each job names its URL
    events = ListAttribute(of=UnicodeAttribute, attr_name="Events", default=list)
    description = UnicodeAttribute(attr_name="Description", default="")
    state = UnicodeAttribute(attr_name="State", default="enabled")  # "enabled" | "disabled"
    disabled_reason = UnicodeAttribute(attr_name="DisabledReason", null=True)
    disabled_at = UTCDateTimeAttribute(attr_name="DisabledAt", null=True)
    secrets = ListAttribute(of=SigningSecret, attr_name="Secrets", default=list)
    # Epoch seconds of the first failed attempt since the last success (the 5-day disable counts from it).
    failing_since = NumberAttribute(attr_name="FailingSince", null=True)
    last_success_at = UTCDateTimeAttribute(attr_name="LastSuccessAt", null=True)
    created_at = UTCDateTimeAttribute(attr_name="CreatedAt")
    updated_at = UTCDateTimeAttribute(attr_name="UpdatedAt")
    version = NumberAttribute(attr_name="Version", default=1)

    id_index = EndpointIdIndex()
    all_index = EndpointAllIndex()


class DeliveryAttempt(MapAttribute):
    """One try: when, the HTTP status (None: no answer), how long, what went wrong, the first 1 KB of the answer."""

    at = UTCDateTimeAttribute(attr_name="At")
    url = UnicodeAttribute(attr_name="Url")
    status_code = NumberAttribute(attr_name="StatusCode", null=True)
    latency_ms = NumberAttribute(attr_name="LatencyMs", null=True)
    error = UnicodeAttribute(attr_name="Error", null=True)
    response = UnicodeAttribute(attr_name="Response", null=True)
    worker = UnicodeAttribute(attr_name="Worker", null=True)


class DeliveryJobIndex(GlobalSecondaryIndex):
    """A job's deliveries (sparse: a ping has no JobId)."""

    class Meta:
        index_name = "JobEventId"
        projection = AllProjection()

    job_id = UnicodeAttribute(hash_key=True, attr_name="JobId")
    event_id = UnicodeAttribute(range_key=True, attr_name="EventId")


class DeliveryDueIndex(GlobalSecondaryIndex):
    """Unfinished deliveries by the time someone must act (sparse: DueShard only while PENDING or SENDING)."""

    class Meta:
        index_name = "DueShardDueAt"
        projection = KeysOnlyProjection()

    due_shard = UnicodeAttribute(hash_key=True, attr_name="DueShard")
    due_at = NumberAttribute(range_key=True, attr_name="DueAt")


class WebhookDelivery(Model):
    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_WEBHOOK_DELIVERIES_TABLE_NAME

    hook_id = UnicodeAttribute(hash_key=True, attr_name="HookId")
    event_id = UnicodeAttribute(range_key=True, attr_name="EventId")
    event_type = UnicodeAttribute(attr_name="EventType")
    owner = UnicodeAttribute(attr_name="Owner")
    job_id = UnicodeAttribute(attr_name="JobId", null=True)
    # The per-job callback's URL (an endpoint's URL is read from the endpoint at each try).
    url = UnicodeAttribute(attr_name="Url", null=True)
    body = UnicodeAttribute(attr_name="Body")  # the signed JSON, the same bytes at every try
    status = UnicodeAttribute(attr_name="Status")  # DeliveryStatus
    attempts = NumberAttribute(attr_name="Attempts", default=0)
    attempt_log = ListAttribute(of=DeliveryAttempt, attr_name="AttemptLog", default=list)
    next_attempt_at = NumberAttribute(attr_name="NextAttemptAt", null=True)
    # Retried until then (the first try's time plus the retry window; a redelivery starts a new window).
    retry_until = NumberAttribute(attr_name="RetryUntil")
    lease_owner = UnicodeAttribute(attr_name="LeaseOwner", null=True)
    claim_token = UnicodeAttribute(attr_name="ClaimToken", null=True)
    lease_expires_at = NumberAttribute(attr_name="LeaseExpiresAt", null=True)
    due_shard = UnicodeAttribute(attr_name="DueShard", null=True)
    due_at = NumberAttribute(attr_name="DueAt", null=True)
    created_at = UTCDateTimeAttribute(attr_name="CreatedAt")
    updated_at = UTCDateTimeAttribute(attr_name="UpdatedAt")
    finished_at = UTCDateTimeAttribute(attr_name="FinishedAt", null=True)
    expires_at = TTLAttribute(attr_name="ExpiresAt")

    job_index = DeliveryJobIndex()
    due_index = DeliveryDueIndex()


__all__ = ["DUE_SHARD", "DeliveryAttempt", "SigningSecret", "WebhookDelivery", "WebhookEndpoint"]
