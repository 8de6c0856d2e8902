"""S3 through boto3: uploaded item files and large chunk outcomes (the only module that talks to S3)."""

import functools
import json
import math

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from jobs.exceptions import StoreUnavailable


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
    days = max(1, math.ceil(settings.BATCHLAB_RETENTION_DAYS))
    client.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={"Rules": [{
            "ID": "batchlab-retention", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": days},
        }]},
    )
    return f"bucket {bucket}: {state}, objects expire after {days} day(s)"


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


def json_put(*, key: str, value) -> None:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    s3_client().put_object(Bucket=settings.BATCHLAB_BUCKET, Key=key, Body=body, ContentType="application/json")


def json_get(*, key: str):
    return json.loads(s3_client().get_object(Bucket=settings.BATCHLAB_BUCKET, Key=key)["Body"].read())
