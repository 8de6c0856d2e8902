"""workflow.completed, workflow.failed, workflow.canceled: their deliveries in the transaction that ends the workflow,
sent after it, once whatever the duplicates; in-process (moto), with a real receiver on 127.0.0.1."""

import pytest
from standardwebhooks.webhooks import Webhook

from jobs.services import publishing, webhooks
from jobs.services.workflows.actions import workflow_cancel
from jobs.services.workflows.effects import step_end
from jobs.states import COMPLETE
from jobs.tables import JOB_SK, Job, WebhookDelivery
from tests.jobs.workflow_helpers import end, job_of, submit, workflow_status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]

CHAIN = {"name": "chain", "steps": {"a": {"type": "echo"}, "b": {"type": "echo", "needs": ["a"]}}}


@pytest.fixture(autouse=True)
def sent(monkeypatch):
    ids = []
    monkeypatch.setattr(publishing, "tasks_publish", lambda *, messages, **route: ids.extend(m[2] for m in messages))
    return ids


def deliveries(hook_id: str) -> list[WebhookDelivery]:
    return list(WebhookDelivery.query(hook_id, consistent_read=True))


def test_a_completed_workflow_raises_workflow_completed_once_and_it_is_delivered_signed(hook_messages, receiver):
    endpoint, secret = webhooks.webhook_create(owner="alice", url=receiver.url, events_wanted=["workflow.completed"])
    wf = submit(CHAIN)
    assert Job.get(job_of(wf.workflow_id, "a").job_id, JOB_SK).hook_events is None  # steps carry no workflow event
    end(wf.workflow_id, "a")
    assert deliveries(endpoint.hook_id) == []  # not ended yet
    end(wf.workflow_id, "b")
    assert workflow_status(wf.workflow_id) == "COMPLETED"
    [delivery] = deliveries(endpoint.hook_id)
    assert delivery.event_type == "workflow.completed" and delivery.due_at  # a lost message is released by the due sweep
    assert [tuple(m[1]) for m in hook_messages if m[0] == webhooks.DELIVER_TASK] == [(endpoint.hook_id, delivery.event_id)]
    assert webhooks.delivery_run(hook_id=endpoint.hook_id, event_id=delivery.event_id, worker="d1") == "delivered"
    [got] = receiver.requests
    body = Webhook(secret).verify(got.body, got.headers)
    assert body["type"] == "workflow.completed"
    assert body["data"]["id"] == wf.workflow_id and body["data"]["status"] == "COMPLETED" and body["data"]["finished_at"]
    assert body["data"]["name"] == "chain" and body["data"]["steps_total"] == 2
    # A duplicate of b's end (a message delivered twice) tells the ended workflow nothing: no second event.
    again = step_end(job=job_of(wf.workflow_id, "b"), transition=COMPLETE)
    assert again is None or not again.also
    assert len(deliveries(endpoint.hook_id)) == 1


def test_a_failed_workflow_raises_workflow_failed_and_a_canceled_one_workflow_canceled(hook_messages, receiver):
    endpoint, _ = webhooks.webhook_create(owner="alice", url=receiver.url,
                                          events_wanted=["workflow.failed", "workflow.canceled", "workflow.completed"])
    failed = submit(CHAIN)
    end(failed.workflow_id, "a", status="FAILED")
    assert workflow_status(failed.workflow_id) == "FAILED"
    canceled = submit(CHAIN)
    workflow_cancel(workflow_id=canceled.workflow_id, owner="alice", actor="alice")
    assert workflow_status(canceled.workflow_id) == "CANCELED"
    kinds = sorted(d.event_type for d in deliveries(endpoint.hook_id))
    assert kinds == ["workflow.canceled", "workflow.failed"]


def test_nobody_subscribed_writes_no_delivery_and_another_users_endpoint_hears_nothing(hook_messages, receiver):
    mine, _ = webhooks.webhook_create(owner="alice", url=receiver.url, events_wanted=["job.completed"])
    theirs, _ = webhooks.webhook_create(owner="bob", url=receiver.url, events_wanted=["workflow.completed"])
    wf = submit(CHAIN)
    end(wf.workflow_id, "a")
    end(wf.workflow_id, "b")
    assert workflow_status(wf.workflow_id) == "COMPLETED"
    assert [d.event_type for d in deliveries(mine.hook_id)] == [] and deliveries(theirs.hook_id) == []
