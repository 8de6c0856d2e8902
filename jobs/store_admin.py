"""Bootstrap of the DynamoDB tables, the SQS queues and the S3 bucket, for operators and `make run`."""

from dataclasses import dataclass, field

import boto3
from django.conf import settings

from jobs import objects, queues
from jobs.store_indexes import table_indexes_upgrade
from jobs.tables import IdempotencyRecord, Job, Limiter, TypeSettings, WorkerRecord, Workflow
from jobs.tables.schedules import Schedule, ScheduleLogEntry
from jobs.tables.webhooks import WebhookDelivery, WebhookEndpoint

# Chunk items live in the jobs table (Job's model creates it); Chunk has no index of its own.
# A type's edits share its settings' table, waiters their limiter's, a workflow's graph its header's.
MODELS = (Job, IdempotencyRecord, WorkerRecord, Schedule, ScheduleLogEntry, TypeSettings, Limiter, WebhookEndpoint, WebhookDelivery,
          Workflow)


@dataclass
class Bootstrap:
    """A line per resource, and the indexes that are not queryable yet (still backfilling or refused)."""

    lines: list[str] = field(default_factory=list)
    not_active: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _dynamodb():
    return boto3.client("dynamodb", region_name=settings.AWS_REGION, endpoint_url=settings.AWS_ENDPOINT_URL_DYNAMODB)


def _enable_ttl(client, table_name: str, attribute: str) -> str:
    current = client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and current.get("AttributeName") == attribute:
        return "unchanged"
    client.update_time_to_live(TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute})
    return "enabled"


def store_bootstrap(*, index_wait_seconds: float = 600, poll_seconds: float = 5) -> Bootstrap:
    """Create what is missing and add the indexes an existing table lacks; delete and change nothing else.

    A table that exists gets each global secondary index its model has and the table
    lacks (UpdateTable, one per call, waiting up to `index_wait_seconds` for each to
    become ACTIVE); an index the model no longer has is reported and kept.
    """
    report = Bootstrap()
    client = _dynamodb()
    for model in MODELS:
        existed = model.exists()
        phrases = ["exists" if existed else "created"]
        if existed:
            upgrade = table_indexes_upgrade(model=model, client=client, wait_seconds=index_wait_seconds,
                                            poll_seconds=poll_seconds)
            phrases += upgrade.phrases
            report.not_active += upgrade.not_active
            report.failed += upgrade.failed
        else:
            model.create_table(wait=True)
        phrases.append(f"TTL on ExpiresAt {_enable_ttl(client, model.Meta.table_name, 'ExpiresAt')}")
        report.lines.append(f"table {model.Meta.table_name}: {', '.join(phrases)}")
    for result in queues.queues_bootstrap():
        state = "created" if result["created"] else ("updated " + ",".join(result["changed"]) if result["changed"] else "exists")
        report.lines.append(f"queue {result['queue']} ({result['priority']} priority): {state} ({result['queue_url']})")
        report.lines.append(f"dead-letter queue {result['dlq']}: {result['dlq_url']}")
    hooks_url, hooks_created = queues.webhooks_queue_bootstrap()
    report.lines.append(f"queue {queues.webhooks_queue_name()}: {'created' if hooks_created else 'exists'} ({hooks_url})")
    report.lines.append(objects.bucket_bootstrap())
    return report


def bootstrap_all(*, index_wait_seconds: float = 600, poll_seconds: float = 5) -> list[str]:
    """`store_bootstrap`'s lines: a line per resource."""
    return store_bootstrap(index_wait_seconds=index_wait_seconds, poll_seconds=poll_seconds).lines
