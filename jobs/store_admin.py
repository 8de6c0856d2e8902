"""Bootstrap of the DynamoDB tables, the SQS queues and the S3 bucket, for operators and `make run`."""

import boto3
from django.conf import settings

from jobs import objects, queues
from jobs.tables import IdempotencyRecord, Job, WorkerRecord
from jobs.tables_schedules import Schedule


def _enable_ttl(table_name: str, attribute: str) -> str:
    client = boto3.client("dynamodb", region_name=settings.AWS_REGION, endpoint_url=settings.AWS_ENDPOINT_URL_DYNAMODB)
    current = client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and current.get("AttributeName") == attribute:
        return "unchanged"
    client.update_time_to_live(TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute})
    return "enabled"


def bootstrap_all() -> list[str]:
    """Create what is missing; change nothing that exists. Returns a line per resource."""
    lines = []
    for model in (Job, IdempotencyRecord, WorkerRecord, Schedule):
        existed = model.exists()
        if not existed:
            model.create_table(wait=True)
        ttl = _enable_ttl(model.Meta.table_name, "ExpiresAt")
        lines.append(f"table {model.Meta.table_name}: {'exists' if existed else 'created'}, TTL on ExpiresAt {ttl}")
    result = queues.queues_bootstrap()
    state = "created" if result["created"] else ("updated " + ",".join(result["changed"]) if result["changed"] else "exists")
    lines.append(f"queue {queues.queue_name()}: {state} ({result['queue_url']})")
    lines.append(f"dead-letter queue {queues.dlq_name()}: {result['dlq_url']}")
    lines.append(objects.bucket_bootstrap())
    return lines
