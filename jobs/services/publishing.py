"""Publishing a job's id to SQS through Celery: the only place the API side sends a message."""

import logging

from celery import current_app

from jobs.exceptions import QueueUnavailable

logger = logging.getLogger("jobs.services")

# The name travels inside every message; jobs.tasks registers the task under it.
# Sending by name means publishing never imports the task module (which imports
# the runner, which imports the services: a circle).
PROCESS_JOB_TASK = "jobs.process_job"


def job_publish(*, job_id: str, countdown: float = 0, delay_seconds: int = 0) -> None:
    """Send the job's id to SQS through Celery (one SendMessage). Raises QueueUnavailable.

    `delay_seconds` (at most 900) is an SQS message delay: the message stays
    invisible on the queue, not in a worker's memory as a Celery countdown does.
    """
    options = {"delay_seconds": min(900, int(delay_seconds))} if delay_seconds > 0 else {}
    try:
        # The job id doubles as the Celery task id, so that every line Celery logs
        # about this message ("Task jobs.process_job[<job id>] received") names the job.
        current_app.send_task(PROCESS_JOB_TASK, args=[job_id], task_id=job_id, countdown=countdown or None, retry=False, **options)
    except Exception as exc:  # kombu/botocore raise many types; all mean "not queued"
        logger.warning("job %s could not be published: %s", job_id, exc)
        raise QueueUnavailable(
            f"Job {job_id} was stored but could not be queued; the recovery pass will queue it.",
            extra={"job_id": job_id},
        ) from exc
