"""The `effect` job type for fault tests: each run commits its effect to a fenced sink.

Registered in the stack's processes through BATCHLAB_HANDLER_MODULES (it is test
code and imports boto3 and the table keys, which job handlers may not). The sink
is a DynamoDB table (BATCHLAB_EFFECT_SINK_TABLE, created by the fault fixtures) keyed by job id and
claim token. A run first looks for an effect of the job committed by an earlier
attempt (then it has nothing to do: the effect is idempotent per job); otherwise
it writes its own in one TransactWriteItems whose ConditionCheck requires the
job to be PROCESSING under this run's claim token. A worker that lost its claim
(stopped past its lease, then resumed) is refused there, so the fault checker
sees more than one effect for a job only if fencing failed. A transaction whose
answer was lost (applied, then the connection failed) is recognised on re-read
by its token, whether the SDK's retry was refused or every try failed in transit.
"""

import os
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings
from rest_framework import serializers

from jobs.handlers.registry import TransientError, job_type
from jobs.tables import JOB_SK

SINK_TABLE = os.environ.get("BATCHLAB_EFFECT_SINK_TABLE", "batchlab-test-effects")


class FencedOut(TransientError):
    """The sink refused the write: this run's claim no longer holds the job."""


def _client():
    config = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client("dynamodb", region_name=settings.AWS_REGION, endpoint_url=settings.AWS_ENDPOINT_URL_DYNAMODB, config=config)


def effects_of(client, job_id: str) -> list[dict]:
    items = client.query(
        TableName=SINK_TABLE, ConsistentRead=True,
        KeyConditionExpression="JobId = :j", ExpressionAttributeValues={":j": {"S": job_id}},
    )["Items"]
    return items


def effect_commit(*, job_id: str, token: str) -> str:
    """Commit this run's effect once per job, fenced by `token`: "written", "already" or raises FencedOut."""
    client = _client()
    if effects_of(client, job_id):
        return "already"
    try:
        client.transact_write_items(TransactItems=[
            {"ConditionCheck": {
                "TableName": settings.BATCHLAB_TABLE_NAME, "Key": {"JobId": {"S": job_id}, "SK": {"S": JOB_SK}},
                "ConditionExpression": "ClaimToken = :t AND #s = :p",
                "ExpressionAttributeNames": {"#s": "Status"},
                "ExpressionAttributeValues": {":t": {"S": token}, ":p": {"S": "PROCESSING"}},
            }},
            {"Put": {
                "TableName": SINK_TABLE,
                "Item": {"JobId": {"S": job_id}, "Token": {"S": token}, "Pid": {"N": str(os.getpid())},
                         "At": {"N": str(time.time())}},
                "ConditionExpression": "attribute_not_exists(JobId)",
            }},
        ])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        if any(item["Token"]["S"] == token for item in effects_of(client, job_id)):
            return "written"  # an earlier try of this transaction was applied; its answer was lost
        raise FencedOut(f"job {job_id}: the sink refused the effect of claim {token[:8]}") from None
    except (HTTPClientError, BotoConnectionError):
        # Every try failed in transit (the last answer lost too): one read tells whether a try was applied.
        if any(item["Token"]["S"] == token for item in effects_of(client, job_id)):
            return "written"
        raise
    return "written"


class EffectPayload(serializers.Serializer):
    seconds = serializers.FloatField(min_value=0, max_value=600, required=False, default=0)


@job_type("effect", payload=EffectPayload, example={"seconds": 0})
def effect(payload: dict, ctx) -> dict:
    """Sleep `seconds` (checking for cancel), then commit the job's one effect to the fenced sink."""
    seconds = float(payload.get("seconds", 0))
    steps = max(1, int(seconds * 4))
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)
        ctx.check_cancel()
    outcome = effect_commit(job_id=ctx.job_id, token=ctx.claim_token)
    return {"effect": outcome, "pid": os.getpid()}
