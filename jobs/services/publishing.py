"""Publishing to SQS through Celery: a job's id, or a chunk's (job id, number), ten to a SendMessageBatch.

The only place the API side sends a message. Each message goes to its job's
priority queue and carries, besides the ids, the job's flow hints (its type and
concurrency key, jobs.flow.flow_hints): a worker then knows before the claim
whether the job's type is paused or limited, without reading the job first.
"""

import logging

from celery import current_app

from jobs.exceptions import QueueUnavailable
from jobs.flow import flow_hints, queue_suffix

logger = logging.getLogger("jobs.services")

# The name travels inside every message; jobs.tasks registers the task under it.
# Sending by name means publishing never imports the task module (which imports
# the runner, which imports the services: a circle).
PROCESS_JOB_TASK = "jobs.process_job"
PROCESS_CHUNK_TASK = "jobs.process_chunk"
SQS_BATCH = 10  # SendMessageBatch takes at most 10 messages


def job_route(job) -> dict:
    """The keywords of job_publish for `job` (a Job, or a Chunk's job): its priority and flow hints."""
    return {"priority": getattr(job, "priority", None), "flow": flow_hints(job)}


def job_publish(*, job_id: str, delay_seconds: int = 0, priority: str | None = None, flow: dict | None = None) -> None:
    """Send the job's id to its priority's SQS queue through Celery (one SendMessage). Raises QueueUnavailable.

    `delay_seconds` (at most 900) is an SQS message delay: the message stays
    invisible on the queue, not in a worker's memory as a Celery countdown would
    (a countdown's message is held unacknowledged by the worker that received it,
    past what the visibility heartbeat keeps hidden). No message here carries one.
    `flow` (job_route) rides along as the task's `flow` keyword.
    """
    options = {"delay_seconds": min(900, int(delay_seconds))} if delay_seconds > 0 else {}
    try:
        # The job id doubles as the Celery task id, so that every line Celery logs
        # about this message ("Task jobs.process_job[<job id>] received") names the job.
        current_app.send_task(PROCESS_JOB_TASK, args=[job_id], kwargs={"flow": flow} if flow else None, task_id=job_id,
                              queue=queue_suffix(priority), retry=False, **options)
    except Exception as exc:  # kombu/botocore raise many types; all mean "not queued"
        logger.warning("job %s could not be published: %s", job_id, exc)
        raise QueueUnavailable(
            f"Job {job_id} was stored but could not be queued; the recovery pass will queue it.",
            extra={"job_id": job_id},
        ) from exc


class _Capture:
    """Stands in for the channel's SQS client while Celery "sends": keeps each SendMessage's arguments."""

    def __init__(self, client):
        self.client = client
        self.sent: list[dict] = []

    def send_message(self, **kwargs):
        self.sent.append(kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


def tasks_publish(*, messages: list[tuple], delay_seconds: int = 0, priority: str | None = None) -> int:
    """Send Celery task messages `(task name, args, task id[, kwargs])`, ten per SendMessageBatch; returns the requests made.

    Celery builds each message exactly as send_task would (same body, headers
    and encoding, so workers read them as usual); only the SQS call changes: the
    transport's SendMessage calls are captured and sent in batches of ten, which
    cuts SQS requests (the bill) tenfold. Entries SQS refuses are retried once
    one by one; QueueUnavailable if any still fails (the caller's recovery
    pass publishes what is left PENDING). `delay_seconds` (at most 900) is an SQS
    delay on every message; every message goes to `priority`'s queue.
    """
    options = {"delay_seconds": min(900, int(delay_seconds))} if delay_seconds > 0 else {}
    options["queue"] = queue_suffix(priority)
    if not messages:
        return 0
    requests = 0
    try:
        with current_app.producer_or_acquire() as producer:
            channel = producer.channel
            client = channel.sqs()
            capture = _Capture(client)
            channel.sqs = lambda queue=None: capture  # this producer is ours alone while acquired
            try:
                for name, args, task_id, *kwargs in messages:
                    current_app.send_task(name, args=args, kwargs=(kwargs or [None])[0], task_id=task_id, producer=producer,
                                          retry=False, **options)
            finally:
                del channel.sqs
        for start in range(0, len(capture.sent), SQS_BATCH):
            group = capture.sent[start:start + SQS_BATCH]
            entries = [{"Id": str(i), "MessageBody": m["MessageBody"], **({"DelaySeconds": m["DelaySeconds"]} if "DelaySeconds" in m else {})}
                       for i, m in enumerate(group)]
            response = client.send_message_batch(QueueUrl=group[0]["QueueUrl"], Entries=entries)
            requests += 1
            for failure in response.get("Failed", []):
                client.send_message(**group[int(failure["Id"])])
                requests += 1
    except Exception as exc:  # kombu/botocore raise many types; all mean "not (all) queued"
        logger.warning("%s messages could not be published: %s", len(messages), exc)
        raise QueueUnavailable("Stored but not (all) queued; the recovery pass will queue it.") from exc
    return requests


# Chunk messages are built and sent this many at a time: a job's 10,000 chunks never sit in memory at once.
PUBLISH_SLICE = 500


def chunks_publish(*, job_id: str, numbers, delay_seconds: int = 0, priority: str | None = None,
                   flow: dict | None = None) -> int:
    """Queue chunks of a job, one message per chunk, ten per SendMessageBatch; returns the SQS requests made.

    `numbers` (a list or a range) is sent PUBLISH_SLICE messages at a time.
    `delay_seconds` (at most 900): the messages stay invisible that long (a delayed item job).
    `priority` and `flow`: the job's (job_route).
    """
    extra = [{"flow": flow}] if flow else []
    numbers = numbers if isinstance(numbers, range) else list(numbers)
    requests = 0
    for start in range(0, len(numbers), PUBLISH_SLICE):
        messages = [(PROCESS_CHUNK_TASK, [job_id, n], f"{job_id}#{n}", *extra) for n in numbers[start:start + PUBLISH_SLICE]]
        requests += tasks_publish(messages=messages, delay_seconds=delay_seconds, priority=priority)
    return requests


def chunks_publish_all(*, job_id: str, chunks_total: int, delay_seconds: int = 0, priority: str | None = None,
                       flow: dict | None = None) -> int:
    """Queue every chunk of an item job (1 … chunks_total); see chunks_publish."""
    return chunks_publish(job_id=job_id, numbers=range(1, int(chunks_total) + 1), delay_seconds=delay_seconds,
                          priority=priority, flow=flow)
