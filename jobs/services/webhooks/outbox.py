"""The outbox: a job's webhook events recorded in the very write that changes its status, then handed to delivery.

At submission the job records which events anyone wants (`job_hooks`: its
owner's enabled endpoints and its own callback; one consistent Query). A status
change of a job that wants its event adds the event to the job's `Outbox` map in
the same UpdateItem (`job_event`): no status without its event, no event without
its status. After the write, one message asks a delivery worker to hand it over
(`event_dispatch`): one TransactWriteItems removes the event from the outbox and
puts one delivery per endpoint. A lost message is found again by the sparse
outbox index (`outboxes_recover`).
"""

import json
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from pynamodb.exceptions import PynamoDBConnectionError, QueryError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from jobs import events
from jobs.documents import iso, job_event_data, schedule_run_data
from jobs.exceptions import InvalidWebhook, QueueUnavailable
from jobs.services.store import is_condition_failure, logger, store_error, store_retry
from jobs.services.webhooks import endpoints as endpoint_services
from jobs.services.webhooks.deliveries import DeliveryClaim, delivery_new
from jobs.services.webhooks.endpoints import CALLBACKS, ENABLED, ENDPOINT
from jobs.services.webhooks.messages import deliver_publish, dispatch_publish
from jobs.states import JobStatus
from jobs.tables import JOB_SK, OUTBOX_SHARD, Job, WebhookEndpoint

# -- at submission -------------------------------------------------------------


def job_hooks(*, owner: str, callback: dict | None = None, records: list | None = None, scheduled: bool = False) -> dict:
    """The webhook attributes of a new job of `owner` ({} when nobody listens): one consistent Query of the owner's endpoints.

    `callback` is the job's own {"url", "events"} (checked: InvalidWebhook); it
    needs the owner's callback secret (GET /webhooks/secret makes it). `records`:
    the owner's endpoints read already (owner_endpoints), for many jobs at once.
    `scheduled`: the job is a schedule's run (only then are schedule.* events wanted).
    """
    records = owner_endpoints(owner=owner) if records is None else records
    wanted = set()
    for record in records:
        if record.kind == ENDPOINT and record.state == ENABLED:
            wanted.update(record.events or [])
    wanted.difference_update(events.WORKFLOW_EVENT_TYPES)  # a workflow's end raises them, never a job's outbox
    if not scheduled:
        wanted.difference_update(events.SCHEDULE_EVENT_TYPES)
    hooks = {}
    if callback is not None:
        url = endpoint_services.url_checked(callback.get("url"), field="webhook.url")
        names = endpoint_services.events_checked(callback.get("events"), field="webhook.events", default=events.FINAL_EVENTS,
                                                 allowed=events.JOB_EVENT_TYPES)
        if not any(r.kind == CALLBACKS for r in records):
            raise InvalidWebhook({"webhook": ["No signing secret for callbacks yet: GET /webhooks/secret makes it (shown once)."]})
        hooks["webhook"] = {"Url": url, "Events": names}
        wanted.update(names)
    if not wanted:
        return {}
    return {**hooks, "hook_events": sorted(wanted), "outbox": {}}


def owner_endpoints(*, owner: str) -> list[WebhookEndpoint]:
    """Every endpoint record of `owner` (subscriptions and the callback secret): one consistent Query."""
    try:
        return list(WebhookEndpoint.query(owner, consistent_read=True))
    except (QueryError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc


def hooks_apply(job: Job, hooks: dict) -> Job:
    """Set the attributes job_hooks chose on a new, unsaved job (copies: one `hooks` may serve many jobs)."""
    for name, value in hooks.items():
        setattr(job, name, value.copy() if isinstance(value, (dict, list)) else value)
    return job


# -- in a transition's write -----------------------------------------------------


@dataclass
class JobEvent:
    """The update actions that record a job's events (none, one, or a few of one write) in its outbox, and what follows that write."""

    job_id: str
    event_ids: list[str] = field(default_factory=list)
    actions: list = field(default_factory=list)

    @property
    def event_id(self) -> str | None:
        """The first event's id (None: nothing recorded)."""
        return self.event_ids[0] if self.event_ids else None

    def committed(self) -> None:
        """The write applied: ask a delivery worker to hand each event over (a failure is left to recovery)."""
        for event_id in self.event_ids:
            try:
                dispatch_publish(job_id=self.job_id, event_id=event_id)
            except QueueUnavailable:
                return  # in the outbox still: outboxes_recover publishes it


def job_events(*, job: Job | None, event_types: list[str], now: float | None = None) -> JobEvent:
    """The outbox actions for those of `event_types` that `job` (as the writer holds it) wants; none when it wants none."""
    wanted = [t for t in event_types if job is not None and job.hook_events and t in job.hook_events]
    if not wanted or job.outbox is None:
        return JobEvent(job_id=getattr(job, "job_id", ""))
    now = time.time() if now is None else now
    event_ids = [events.new_event_id(now=now) for _ in wanted]
    return JobEvent(job_id=job.job_id, event_ids=event_ids, actions=[
        *(Job.outbox[event_id].set({"Type": event_type, "At": now}) for event_id, event_type in zip(event_ids, wanted)),
        Job.outbox_shard.set(OUTBOX_SHARD),
        Job.outbox_at.set(Job.outbox_at | int(now)),
    ])


def job_status_event(*, job: Job | None, status: str) -> JobEvent:
    """The events of `job` entering `status` (job.started, job.completed, ...; schedule.run_failed), those it wants."""
    scheduled = bool(getattr(job, "schedule_id", None))
    return job_events(job=job, event_types=events.events_for_status(status, scheduled=scheduled))


def job_progress_event(*, job: Job | None, now: float | None = None) -> JobEvent:
    """A job.progress event, at most one per job per PROGRESS_EVENT_SECONDS (the last one's time rides on the job)."""
    now = time.time() if now is None else now
    if job is None or now - float(job.hook_progress_at or 0) < events.PROGRESS_EVENT_SECONDS:
        return JobEvent(job_id=getattr(job, "job_id", ""))
    event = job_events(job=job, event_types=[events.JOB_PROGRESS], now=now)
    if event.event_id:
        event.actions.append(Job.hook_progress_at.set(now))
    return event


def job_progress_record(*, job: Job | None, now: float | None = None) -> str | None:
    """An item job's job.progress after one of its chunks finished: one conditional UpdateItem of its own; the event id, or None.

    A progress event is no status change, so it need not ride in the chunk's
    transaction: the job item takes it only while PROCESSING and when its last
    progress event is PROGRESS_EVENT_SECONDS old (chunks finishing together
    record one). None when the job does not want it, or it is not due.
    """
    now = time.time() if now is None else now
    event = job_progress_event(job=job, now=now)
    if not event.event_id:
        return None
    due = Job.hook_progress_at.does_not_exist() | (Job.hook_progress_at <= now - events.PROGRESS_EVENT_SECONDS)
    try:
        Job(job.job_id, JOB_SK).update(actions=event.actions, condition=(Job.status == JobStatus.PROCESSING) & due,
                                       add_version_condition=False)
    except UpdateError as exc:
        if not is_condition_failure(exc):
            logger.warning("job %s: its job.progress event was not recorded: %s", job.job_id, exc)
        return None
    event.committed()
    return event.event_id


# -- hand-over to delivery -------------------------------------------------------


def event_body(*, event_type: str, at: float, job: Job) -> str:
    """The signed body: {"type", "timestamp", "data": the job without its timeline (schedule.run_failed: its run, with that job)}.

    At most BATCHLAB_WEBHOOK_MAX_BODY_BYTES: a job too large for that loses its
    payload and result (`omitted` names them: GET /jobs/{id} has them).
    """
    data = job_event_data(job)

    def body() -> str:
        return event_json(event_type=event_type, at=at,
                          data=schedule_run_data(job=data) if event_type == events.SCHEDULE_RUN_FAILED else data)

    text = body()
    if len(text.encode()) > settings.BATCHLAB_WEBHOOK_MAX_BODY_BYTES:
        data.update(payload=None, result=None, omitted=["payload", "result"])
        text = body()
    return text


def event_json(*, event_type: str, at: float, data: dict) -> str:
    """The signed body of any event: {"type", "timestamp", "data"}, compact."""
    return json.dumps({"type": event_type, "timestamp": iso(_datetime(at)), "data": data}, separators=(",", ":"))


def _datetime(epoch: float):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(float(epoch), tz=timezone.utc)


def _targets(job: Job, event_type: str) -> list[tuple[WebhookEndpoint, str | None]]:
    """(endpoint, callback URL or None): the owner's enabled endpoints made before the job, and the job's own callback."""
    records = owner_endpoints(owner=job.owner)
    out = [(r, None) for r in records if r.kind == ENDPOINT and r.state == ENABLED and event_type in (r.events or [])
           and r.created_at <= job.created_at]
    callback = job.webhook.as_dict() if job.webhook is not None else None
    if callback and event_type in callback.get("Events", []):
        secret = next((r for r in records if r.kind == CALLBACKS), None)
        if secret is None:
            logger.warning("job %s: its callback secret is gone; the %s callback is not sent", job.job_id, event_type)
        else:
            out.append((secret, callback["Url"]))
    return out


def event_dispatch(*, job_id: str, event_id: str, worker: str) -> list[tuple[DeliveryClaim, WebhookEndpoint]]:
    """Hand the event over: one delivery per endpoint, and the event out of the outbox, in one TransactWriteItems.

    Returns the first delivery claimed by `worker` (to be tried at once, with its
    endpoint); the others are published. A repeated message finds the event gone
    from the outbox and does nothing. Requests: one GetItem, one Query, one
    TransactWriteItems (an UpdateItem when no endpoint wants the event).
    """
    for _ in range(5):
        try:
            job = Job.get(job_id, JOB_SK, consistent_read=True)
        except Job.DoesNotExist:
            return []
        outbox = job.outbox.as_dict() if job.outbox is not None else {}
        entry = outbox.get(event_id)
        if entry is None:
            return []
        last = len(outbox) == 1
        out_actions = [Job.outbox[event_id].remove()]
        condition = Job.outbox[event_id].exists()
        if last:
            out_actions += [Job.outbox_shard.remove(), Job.outbox_at.remove()]
            condition &= size(Job.outbox) == 1
        targets = _targets(job, entry["Type"])
        body = event_body(event_type=entry["Type"], at=float(entry["At"]), job=job) if targets else ""
        made = [delivery_new(hook_id=e.hook_id, owner=job.owner, event_id=event_id, event_type=entry["Type"], body=body,
                             job_id=job_id, url=url, claim_for=worker if i == 0 else None)
                for i, (e, url) in enumerate(targets)]

        def write():
            if not made:
                job.update(actions=out_actions, condition=condition, add_version_condition=False)
            else:
                with TransactWrite(connection=Job._get_connection().connection, client_request_token=uuid.uuid4().hex) as tx:
                    tx.update(Job(job_id, JOB_SK), actions=out_actions, condition=condition)
                    for delivery, _ in made:
                        tx.save(delivery, condition=type(delivery).event_id.does_not_exist())

        try:
            store_retry(write, what=f"hand-over of event {event_id} of job {job_id}")  # a conflict is tried again, not a refusal
        except (UpdateError, TransactWriteError) as exc:
            if is_condition_failure(exc):
                continue  # another event came or went meanwhile, or another worker handed this one over: read again
            raise
        logger.debug("job %s: event %s %s handed to %d endpoints", job_id, event_id, entry["Type"], len(made))
        for delivery, _ in made[1:]:
            try:
                deliver_publish(hook_id=delivery.hook_id, event_id=event_id)
            except QueueUnavailable:
                pass  # due in BATCHLAB_WEBHOOK_STALE_SECONDS on the due index: released then
        if not made:
            return []
        first, token = made[0]
        return [(DeliveryClaim(delivery=first, token=token, worker=worker), targets[0][0])]
    logger.warning("job %s: event %s not handed over after 5 tries (the outbox kept moving); recovery will", job_id, event_id)
    return []


def outboxes_recover(*, stale_seconds: int | None = None, limit: int = 100) -> list[str]:
    """Publish again the events left in outboxes longer than BATCHLAB_WEBHOOK_STALE_SECONDS (their message was lost).

    One Query on the sparse outbox index; per job one GetItem, one conditional
    UpdateItem (OutboxAt moves on, so one recoverer publishes) and a SendMessage per event.
    """
    stale = settings.BATCHLAB_WEBHOOK_STALE_SECONDS if stale_seconds is None else stale_seconds
    now = int(time.time())
    published = []
    try:
        keys = list(Job.outbox_index.query(OUTBOX_SHARD, Job.outbox_at <= now - stale, limit=limit))
    except (QueryError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc
    for key in keys:
        try:
            job = Job.get(key.job_id, JOB_SK, consistent_read=True)
            job.update(actions=[Job.outbox_at.set(now)], condition=Job.outbox_at == job.outbox_at, add_version_condition=False)
        except Job.DoesNotExist:
            continue
        except UpdateError as exc:
            if is_condition_failure(exc):
                continue
            raise
        for event_id in (job.outbox.as_dict() if job.outbox is not None else {}):
            try:
                dispatch_publish(job_id=job.job_id, event_id=event_id)
                published.append(f"{job.job_id}/{event_id}")
            except QueueUnavailable:
                break
    if published:
        logger.info("webhooks: %d events published again from outboxes: %s", len(published), published[:10])
    return published
