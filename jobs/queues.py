"""SQS administration through boto3: queue bootstrap and the dead-letter queues.

Publishing and consuming go through Celery (jobs.tasks); this module is for the
operations Celery does not offer: creating queues with a redrive policy,
counting messages, and reading, deleting and redriving dead letters. There is one
queue per priority (`<prefix>jobs-high`, `<prefix>jobs`, `<prefix>jobs-low`), each
with its own dead-letter queue (`…-dlq`).
"""

import base64
import functools
import json
import logging
from dataclasses import dataclass

import boto3
from botocore.config import Config
from django.conf import settings

from jobs.flow import PRIORITIES, queue_suffix

logger = logging.getLogger(__name__)


def queue_name(priority: str | None = None) -> str:
    """The SQS queue of a priority (normal: `<prefix>jobs`, the queue from before priorities)."""
    return f"{settings.BATCHLAB_QUEUE_PREFIX}{queue_suffix(priority)}"


def dlq_name(priority: str | None = None) -> str:
    return f"{queue_name(priority)}-dlq"


def webhooks_queue_name() -> str:
    return f"{settings.BATCHLAB_QUEUE_PREFIX}{settings.BATCHLAB_WEBHOOK_QUEUE_NAME}"


def webhooks_queue_bootstrap() -> tuple[str, bool]:
    """Create (or update) the webhooks queue: long polling, a visibility timeout past one try. No dead-letter queue:
    a delivery's own record counts its tries and fails it after the last one. Returns (url, created)."""
    client = sqs_client()
    attributes = {"ReceiveMessageWaitTimeSeconds": "20",
                  "VisibilityTimeout": str(settings.BATCHLAB_WEBHOOK_LEASE_SECONDS + 30)}
    try:
        url = client.get_queue_url(QueueName=webhooks_queue_name())["QueueUrl"]
        client.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        return url, False
    except client.exceptions.QueueDoesNotExist:
        return client.create_queue(QueueName=webhooks_queue_name(), Attributes=attributes)["QueueUrl"], True


def webhooks_queue_depth() -> dict:
    """Approximate message counts of the webhooks queue (visible, in flight, delayed)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
    attrs = sqs_client().get_queue_attributes(QueueUrl=_queue_url(webhooks_queue_name()), AttributeNames=names)["Attributes"]
    return {"visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            "delayed": int(attrs.get("ApproximateNumberOfMessagesDelayed", 0))}


@functools.cache
def sqs_client():
    """One boto3 SQS client per process (clients are thread-safe and keep connections)."""
    return boto3.client(
        "sqs",
        region_name=settings.AWS_REGION,
        endpoint_url=settings.AWS_ENDPOINT_URL_SQS,
        config=Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 2}),
    )


@functools.cache
def _queue_url(name: str) -> str:
    return sqs_client().get_queue_url(QueueName=name)["QueueUrl"]


def queues_bootstrap() -> list[dict]:
    """Create (or update) each priority's queue and its dead-letter queue; idempotent. One dict per priority."""
    return [{"priority": str(p), "queue": queue_name(p), "dlq": dlq_name(p), **_queue_bootstrap(p)} for p in PRIORITIES]


def _queue_bootstrap(priority) -> dict:
    client = sqs_client()
    dlq_url = client.create_queue(QueueName=dlq_name(priority), Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {
        "ReceiveMessageWaitTimeSeconds": "20",
        "VisibilityTimeout": str(settings.BATCHLAB_VISIBILITY_TIMEOUT),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(settings.BATCHLAB_MAX_RECEIVE_COUNT)}),
    }
    try:
        url = client.get_queue_url(QueueName=queue_name(priority))["QueueUrl"]
        current = client.get_queue_attributes(QueueUrl=url, AttributeNames=list(attributes))["Attributes"]
        changed = {k: v for k, v in attributes.items() if current.get(k) != v and not _same_policy(k, current.get(k), v)}
        if changed:
            client.set_queue_attributes(QueueUrl=url, Attributes=changed)
        created = False
    except client.exceptions.QueueDoesNotExist:
        url = client.create_queue(QueueName=queue_name(priority), Attributes=attributes)["QueueUrl"]
        created, changed = True, attributes
    return {"queue_url": url, "dlq_url": dlq_url, "created": created, "changed": sorted(changed)}


def _same_policy(key: str, current: str | None, wanted: str) -> bool:
    if key != "RedrivePolicy" or not current:
        return False
    a, b = json.loads(current), json.loads(wanted)
    return a.get("deadLetterTargetArn") == b["deadLetterTargetArn"] and str(a.get("maxReceiveCount")) == b["maxReceiveCount"]


_DEPTHS = {"visible": "ApproximateNumberOfMessages", "in_flight": "ApproximateNumberOfMessagesNotVisible",
           "delayed": "ApproximateNumberOfMessagesDelayed"}


def _depth(name: str) -> dict:
    attrs = sqs_client().get_queue_attributes(QueueUrl=_queue_url(name), AttributeNames=list(_DEPTHS.values()))["Attributes"]
    return {label: int(attrs.get(attribute, 0)) for label, attribute in _DEPTHS.items()}


def queue_counts() -> dict:
    """Approximate message counts: `queue` and `dead_letter` summed over the priorities, and `priorities` each."""
    priorities = {str(p): {"queue": _depth(queue_name(p)), "dead_letter": _depth(dlq_name(p))} for p in PRIORITIES}
    total = {label: {state: sum(c[label][state] for c in priorities.values()) for state in _DEPTHS}
             for label in ("queue", "dead_letter")}
    return {**total, "priorities": priorities}


def queue_ping() -> None:
    """One GetQueueAttributes on the jobs queue: proves SQS answers and the queue exists."""
    sqs_client().get_queue_attributes(QueueUrl=_queue_url(queue_name()), AttributeNames=["QueueArn"])


def dlq_oldest_sent_at() -> float | None:
    """Epoch seconds of the oldest of up to 10 dead letters sampled per priority (None if none), left visible.

    SQS has no "oldest message" read (CloudWatch's ApproximateAgeOfOldestMessage
    is the exact figure); a sample with VisibilityTimeout=0 hides nothing.
    """
    sent = []
    for priority in PRIORITIES:
        response = sqs_client().receive_message(
            QueueUrl=_queue_url(dlq_name(priority)), MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0,
            MessageSystemAttributeNames=["SentTimestamp"],
        )
        sent += [int(m["Attributes"]["SentTimestamp"]) / 1000 for m in response.get("Messages", [])
                 if "SentTimestamp" in m.get("Attributes", {})]
    return min(sent) if sent else None


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    receipt_handle: str
    job_id: str | None
    receive_count: int
    sent_at: str
    body_preview: str
    queue_url: str = ""
    # The chunk number of a chunk's message (process_chunk), None for a job's.
    number: int | None = None


JOB_TASK, CHUNK_TASK = "jobs.process_job", "jobs.process_chunk"


def _unit_of(body: str) -> tuple[str | None, int | None]:
    """(job id, chunk number or None) inside a Celery message body (kombu's SQS envelope, base64 JSON)."""
    try:
        try:
            envelope = json.loads(base64.b64decode(body, validate=True))
        except ValueError:
            envelope = json.loads(body)
        task = (envelope.get("headers") or {}).get("task")
        if task not in (JOB_TASK, CHUNK_TASK):
            return None, None
        inner = envelope.get("body")
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            inner = base64.b64decode(inner)
        args = json.loads(inner)[0]
        if not args:
            return None, None
        return str(args[0]), (int(args[1]) if task == CHUNK_TASK and len(args) > 1 else None)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None, None


def _receive(*, max_messages: int, visibility_timeout: int) -> list[DeadLetter]:
    """Up to `max_messages` dead letters, from the high priority's dead-letter queue first."""
    letters: list[DeadLetter] = []
    for priority in PRIORITIES:
        if len(letters) >= max_messages:
            break
        letters += _receive_one(_queue_url(dlq_name(priority)), max_messages=max_messages - len(letters),
                                visibility_timeout=visibility_timeout)
    return letters


def _receive_one(url: str, *, max_messages: int, visibility_timeout: int) -> list[DeadLetter]:
    client = sqs_client()
    seen: dict[str, DeadLetter] = {}
    while len(seen) < max_messages:
        response = client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, max_messages - len(seen)),
            VisibilityTimeout=visibility_timeout,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        batch = response.get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        for m in fresh:
            attrs = m.get("Attributes", {})
            job_id, number = _unit_of(m["Body"])
            seen[m["MessageId"]] = DeadLetter(
                message_id=m["MessageId"],
                receipt_handle=m["ReceiptHandle"],
                job_id=job_id,
                number=number,
                receive_count=int(attrs.get("ApproximateReceiveCount", 0)),
                sent_at=attrs.get("SentTimestamp", ""),
                body_preview=m["Body"][:200],
                queue_url=url,
            )
    return list(seen.values())


def dlq_peek(*, max_messages: int = 100) -> list[DeadLetter]:
    """Read dead letters without taking them (they stay visible for the next reader).

    Each read still counts as a receive in SQS; dead letters have no redrive
    policy of their own, so that only changes the count shown.
    """
    letters = _receive(max_messages=max_messages, visibility_timeout=30)
    for letter in letters:
        sqs_client().change_message_visibility(QueueUrl=letter.queue_url, ReceiptHandle=letter.receipt_handle, VisibilityTimeout=0)
    return letters


def dlq_receive(*, max_messages: int = 100) -> list[DeadLetter]:
    """Take dead letters for processing (hidden for 60 s unless deleted)."""
    return _receive(max_messages=max_messages, visibility_timeout=60)


def dlq_delete(letter: DeadLetter) -> None:
    sqs_client().delete_message(QueueUrl=letter.queue_url, ReceiptHandle=letter.receipt_handle)
