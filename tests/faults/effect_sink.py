"""The `effect` type for fault tests: each run (of a job, or of one item of an item job) commits its effect to a fenced sink.

Registered in the stack's processes through BATCHLAB_HANDLER_MODULES (it is test
code and imports boto3 and the table keys, which job handlers may not). The sink
is a DynamoDB table (BATCHLAB_EFFECT_SINK_TABLE, created by the fault fixtures)
keyed by JobId and claim token: a job's effect under its job id, an item's under
`<job id>#L<line>`. A run first looks for an effect committed by an earlier
attempt (then it has nothing to do: the effect is idempotent per job, per item);
otherwise it writes its own in one TransactWriteItems whose ConditionCheck
requires the job (the item's chunk) to be PROCESSING under this run's claim
token. A worker that lost its claim (stopped past its lease, then resumed) is
refused there, so the fault checker sees more than one effect for a job or an
item only if fencing failed. A transaction whose answer was lost (applied, then
the connection failed) is recognised on re-read by its token, whether the SDK's
retry was refused or every try failed in transit. A transaction canceled for
contention (TransactionConflict, ThrottlingError) is a TransientError: the item
or the job is tried again.

An item job with `{"sink": false}` commits no effects (its items only record their runs).
Each item run is also written to BATCHLAB_RUN_LOG (`<job id>#L<line> item <token>`),
so that the checker counts how many times each item ran, and under which claims.
"""

import functools
import os
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings
from rest_framework import serializers

from jobs.handlers.registry import TransientError, item_type, job_type
from jobs.tables import JOB_SK, chunk_sk

SINK_TABLE = os.environ.get("BATCHLAB_EFFECT_SINK_TABLE", "batchlab-test-effects")


CONTENTION = ("TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded")


class FencedOut(TransientError):
    """The sink refused the write: this run's claim no longer holds the job."""


class Contention(TransientError):
    """DynamoDB canceled the sink's transaction for a conflict or a throttle: nothing written, try again."""


def item_sink_id(job_id: str, line: int) -> str:
    """The sink's JobId of one item's effect."""
    return f"{job_id}#L{line}"


@functools.lru_cache(maxsize=1)
def _client():
    """One client per process (a client costs tens of milliseconds to make; an item job makes thousands of effects)."""
    config = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"})
    return boto3.client("dynamodb", region_name=settings.AWS_REGION, endpoint_url=settings.AWS_ENDPOINT_URL_DYNAMODB, config=config)


def effects_of(client, job_id: str) -> list[dict]:
    items = client.query(
        TableName=SINK_TABLE, ConsistentRead=True,
        KeyConditionExpression="JobId = :j", ExpressionAttributeValues={":j": {"S": job_id}},
    )["Items"]
    return items


def effect_commit(*, job_id: str, token: str, chunk: int | None = None, line: int | None = None) -> str:
    """Commit this run's effect once per job (per item: `chunk` and `line`), fenced by `token`.

    Returns "written" or "already"; raises FencedOut (the claim is gone) or Contention.
    """
    client = _client()
    sink_id = job_id if line is None else item_sink_id(job_id, line)
    if effects_of(client, sink_id):
        return "already"
    fence = ({"Key": {"JobId": {"S": job_id}, "SK": {"S": JOB_SK}}, "ExpressionAttributeNames": {"#s": "Status"}} if chunk is None
             else {"Key": {"JobId": {"S": job_id}, "SK": {"S": chunk_sk(chunk)}}, "ExpressionAttributeNames": {"#s": "ChunkStatus"}})
    try:
        client.transact_write_items(TransactItems=[
            {"ConditionCheck": {
                "TableName": settings.BATCHLAB_TABLE_NAME, **fence,
                "ConditionExpression": "ClaimToken = :t AND #s = :p",
                "ExpressionAttributeValues": {":t": {"S": token}, ":p": {"S": "PROCESSING"}},
            }},
            {"Put": {
                "TableName": SINK_TABLE,
                "Item": {"JobId": {"S": sink_id}, "Token": {"S": token}, "Pid": {"N": str(os.getpid())},
                         "At": {"N": str(time.time())}},
                "ConditionExpression": "attribute_not_exists(JobId)",
            }},
        ])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        if any(item["Token"]["S"] == token for item in effects_of(client, sink_id)):
            return "written"  # an earlier try of this transaction was applied; its answer was lost
        codes = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
        if any(code in CONTENTION for code in codes):
            raise Contention(f"{sink_id}: the sink's transaction was canceled: {codes}") from None
        raise FencedOut(f"{sink_id}: the sink refused the effect of claim {token[:8]}") from None
    except (HTTPClientError, BotoConnectionError):
        # Every try failed in transit (the last answer lost too): one read tells whether a try was applied.
        if any(item["Token"]["S"] == token for item in effects_of(client, sink_id)):
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


def _item_run(job_id: str, line: int, token: str) -> None:
    if settings.BATCHLAB_RUN_LOG:
        with open(settings.BATCHLAB_RUN_LOG, "a", encoding="utf-8") as log:
            log.write(f"{item_sink_id(job_id, line)} item {token}\n")


class EffectItemOptions(serializers.Serializer):
    # False: an item only records its run (the run log), no sink write; for item counts where moto's
    # TransactWriteItems, which copies every table it touches, would cost O(items) per item.
    sink = serializers.BooleanField(required=False, default=True)


@item_type("effect", options=EffectItemOptions, chunk_size=100, example_items=[{"v": 1}, {"v": 2, "seconds": 0.1}])
def effect_item(item, ctx) -> dict:
    """Sleep the item's `seconds` if it has some, then commit the item's one effect to the fenced sink (unless `sink` is off)."""
    _item_run(ctx.job_id, ctx.line, ctx.claim_token)
    seconds = float(item.get("seconds", 0)) if isinstance(item, dict) else 0.0
    if seconds:
        time.sleep(seconds)
    if not ctx.payload.get("sink", True):
        return {"line": ctx.line}
    outcome = effect_commit(job_id=ctx.job_id, token=ctx.claim_token, chunk=ctx.chunk, line=ctx.line)
    return {"effect": outcome, "line": ctx.line}
