"""S3 through boto3: uploaded item files, large chunk outcomes, schedules' items (the only module that talks to S3)."""

import functools
import json
import math

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from jobs.exceptions import StoreUnavailable

# Where a job's objects go (its uploaded items, large chunk outcomes): they expire.
EXPIRING_PREFIXES = ("items/", "outcomes/")


@functools.cache
def s3_client():
    """One boto3 S3 client per process (thread-safe, keeps its connections)."""
    return boto3.client(
        "s3",
        region_name=settings.AWS_REGION,
        endpoint_url=settings.AWS_ENDPOINT_URL_S3,
        config=Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 3}, s3={"addressing_style": "path"}),
    )


def bucket_bootstrap() -> str:
    """Create the bucket if missing and set its lifecycle rule: objects expire with the jobs (retention)."""
    client, bucket = s3_client(), settings.BATCHLAB_BUCKET
    state = "exists"
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        kwargs = {} if settings.AWS_REGION == "us-east-1" else {
            "CreateBucketConfiguration": {"LocationConstraint": settings.AWS_REGION}}
        client.create_bucket(Bucket=bucket, **kwargs)
        state = "created"
    # A job lives up to its delay (at most the retention period) plus the retention
    # period: its objects are kept twice the retention. A schedule's items
    # (schedules/) stay as long as the schedule; its edits and deletion remove them.
    days = max(1, math.ceil(2 * settings.BATCHLAB_RETENTION_DAYS))
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={"Rules": [
            {"ID": f"batchlab-retention-{prefix.rstrip('/')}", "Status": "Enabled", "Filter": {"Prefix": prefix},
             "Expiration": {"Days": days}}
            for prefix in EXPIRING_PREFIXES
        ]},
    )
    return f"bucket {bucket}: {state}, objects under {', '.join(EXPIRING_PREFIXES)} expire after {days} day(s)"


def object_upload(*, key: str, stream, content_type: str = "application/x-ndjson") -> None:
    """Stream a file object to S3 (multipart for large ones; never read whole into memory)."""
    try:
        s3_client().upload_fileobj(stream, settings.BATCHLAB_BUCKET, key, ExtraArgs={"ContentType": content_type})
    except (BotoCoreError, ClientError) as exc:
        raise StoreUnavailable("The file store is unavailable; try again shortly.") from exc


def object_read_range(*, key: str, offset: int, length: int) -> bytes:
    """Bytes [offset, offset+length) of an object (one ranged GetObject)."""
    response = s3_client().get_object(Bucket=settings.BATCHLAB_BUCKET, Key=key, Range=f"bytes={offset}-{offset + length - 1}")
    return response["Body"].read()


def object_copy(*, source: str, target: str) -> None:
    """Copy an object within the bucket (server side: one CopyObject, multipart past 8 MB)."""
    try:
        s3_client().copy({"Bucket": settings.BATCHLAB_BUCKET, "Key": source}, settings.BATCHLAB_BUCKET, target)
    except (BotoCoreError, ClientError) as exc:
        raise StoreUnavailable("The file store is unavailable; try again shortly.") from exc


def objects_delete(*, keys: list[str]) -> None:
    """Delete objects (one DeleteObjects); a missing one is no error."""
    if keys:
        s3_client().delete_objects(Bucket=settings.BATCHLAB_BUCKET, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})


def json_put(*, key: str, value) -> None:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    s3_client().put_object(Bucket=settings.BATCHLAB_BUCKET, Key=key, Body=body, ContentType="application/json")


def json_get(*, key: str):
    return json.loads(s3_client().get_object(Bucket=settings.BATCHLAB_BUCKET, Key=key)["Body"].read())
