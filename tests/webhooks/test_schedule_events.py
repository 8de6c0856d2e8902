"""schedule.run_failed: a schedule's job that FAILED (through its outbox), and a run that made no job (deliveries in the run's transaction); in-process."""

import json

import pytest
from standardwebhooks.webhooks import Webhook

from jobs import objects, services
from jobs.exceptions import InvalidWebhook
from jobs.services import webhooks
from jobs.states import DeliveryStatus, JobStatus
from jobs.tables import JOB_SK, Job, WebhookDelivery
from jobs.tables.schedules import Schedule, ScheduleLogEntry

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]


def outbox_types(job_id: str) -> list[str]:
    job = Job.get(job_id, JOB_SK, consistent_read=True)
    return sorted(e["Type"] for e in (job.outbox.as_dict() if job.outbox is not None else {}).values())


def dispatch_all(hook_messages) -> list[str]:
    outcomes = []
    while any(m[0] == webhooks.DISPATCH_TASK for m in hook_messages):
        message = next(m for m in hook_messages if m[0] == webhooks.DISPATCH_TASK)
        hook_messages.remove(message)
        outcomes.append(webhooks.event_dispatch_run(job_id=message[1][0], event_id=message[1][1], worker="d1"))
    return outcomes


def test_a_schedules_job_that_fails_raises_schedule_run_failed_with_that_job(published, hook_messages, receiver):
    endpoint, secret = webhooks.webhook_create(owner="alice", url=receiver.url, events_wanted=["schedule.run_failed"])
    schedule = services.schedule_create(owner="alice", name="nightly", type="fail", payload={"message": "boom"}, interval_seconds=60)
    due = int(schedule.next_run_at)
    services.schedules_tick(now=due)
    job_id = Schedule.get(schedule.schedule_id).last_job_id
    services.job_execute(job_id=job_id, worker="w1")
    assert Job.get(job_id, JOB_SK).status == JobStatus.FAILED
    assert outbox_types(job_id) == ["schedule.run_failed"]  # job.failed is not subscribed to
    assert dispatch_all(hook_messages) == ["delivered"]
    [got] = receiver.requests
    body = Webhook(secret).verify(got.body, got.headers)
    data = body["data"]
    assert body["type"] == "schedule.run_failed" and data["reason"] == "job_failed" and data["message"] == "boom"
    assert data["schedule_id"] == schedule.schedule_id and data["schedule_name"] == "nightly" and data["due_at"]
    assert data["job"]["id"] == job_id and data["job"]["status"] == "FAILED" and "timeline" not in data["job"]


def test_a_job_not_made_by_a_schedule_never_raises_schedule_run_failed(published, hook_messages, receiver):
    webhooks.webhook_create(owner="alice", url=receiver.url, events_wanted=["schedule.run_failed", "job.failed"])
    job, _ = services.job_submit(owner="alice", name="j", type="fail", payload={"message": "no"})
    assert Job.get(job.job_id, JOB_SK).hook_events == ["job.failed"]
    services.job_execute(job_id=job.job_id, worker="w1")
    assert outbox_types(job.job_id) == ["job.failed"]


def test_a_schedules_job_that_completes_raises_no_schedule_event(published, hook_messages, receiver):
    webhooks.webhook_create(owner="alice", url=receiver.url, events_wanted=["schedule.run_failed"])
    schedule = services.schedule_create(owner="alice", name="ok", type="echo", payload={}, interval_seconds=60)
    services.schedules_tick(now=int(schedule.next_run_at))
    job_id = Schedule.get(schedule.schedule_id).last_job_id
    services.job_execute(job_id=job_id, worker="w1")
    assert outbox_types(job_id) == [] and hook_messages == []


def test_a_run_that_could_not_be_made_raises_schedule_run_failed_with_its_log_entry(published, hook_messages, receiver, settings):
    settings.BATCHLAB_SCHEDULE_FIRE_ATTEMPTS = 2
    endpoint, secret = webhooks.webhook_create(owner="alice", url=receiver.url, events_wanted=["schedule.run_failed"])
    schedule = services.schedule_create(owner="alice", name="nightly", type="checksum", payload={}, interval_seconds=60,
                                        items=["a", "b"], chunk_size=2)
    objects.objects_delete(keys=[schedule.items_object, schedule.items_object + ".index.json"])  # its items gone from S3
    due = int(schedule.next_run_at)
    services.schedules_tick(now=due)
    assert list(WebhookDelivery.query(endpoint.hook_id)) == []  # one failed attempt: not given up yet
    services.schedules_tick(now=due + 10)
    runs = list(ScheduleLogEntry.query(schedule.schedule_id, ScheduleLogEntry.sk.startswith("RUN#")))
    assert [r.outcome for r in runs] == ["fired", "failed"]
    [delivery] = WebhookDelivery.query(endpoint.hook_id)
    assert delivery.status == DeliveryStatus.PENDING and delivery.due_at  # on the due index: a lost message is released
    # Its message after the transaction (and the same tick's due sweep, its clock 10 s on, may send one more: refused at the claim).
    assert {(m[0], tuple(m[1])) for m in hook_messages} == {(webhooks.DELIVER_TASK, (endpoint.hook_id, delivery.event_id))}
    assert webhooks.delivery_run(hook_id=endpoint.hook_id, event_id=delivery.event_id, worker="d1") == "delivered"
    [got] = receiver.requests
    data = Webhook(secret).verify(got.body, got.headers)["data"]
    assert data["reason"] == "not_fired" and data["job"] is None and "missing from S3" in data["message"]
    assert data["schedule_id"] == schedule.schedule_id and json.loads(got.body)["type"] == "schedule.run_failed"


def test_a_jobs_own_callback_cannot_ask_for_schedule_events(published):
    webhooks.callback_secret_ensure(owner="alice")
    with pytest.raises(InvalidWebhook, match="Unknown event type 'schedule.run_failed'"):
        services.job_submit(owner="alice", name="j", type="echo", payload={},
                            webhook={"url": "http://127.0.0.1:9/", "events": ["schedule.run_failed"]})
