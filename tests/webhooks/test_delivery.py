"""From a job's transition to the receiver's 2xx, in-process (moto's mock AWS, a real receiver on 127.0.0.1): outbox, hand-over, signed sends, retries."""

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from jobs import services
from jobs.services import webhooks
from jobs.services.webhooks import addresses, sender
from jobs.states import DeliveryStatus, JobStatus
from jobs.tables import JOB_SK, Job, WebhookDelivery, WebhookEndpoint

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]


def endpoint_for(receiver, events=("job.completed",), owner="alice"):
    return webhooks.webhook_create(owner=owner, url=receiver.url, events_wanted=list(events))


def run_job(published, *, owner="alice", type="echo", payload=None, **kw):
    job, _ = services.job_submit(owner=owner, name="j", type=type, payload=payload or {"n": 1}, **kw)
    assert services.job_execute(job_id=job.job_id, worker="w1") in ("completed", "failed")
    return Job.get(job.job_id, JOB_SK, consistent_read=True)


def dispatch_all(hook_messages) -> list[str]:
    """Run every dispatch message recorded so far, as a delivery worker would; returns the outcomes."""
    outcomes = []
    while any(m[0] == webhooks.DISPATCH_TASK for m in hook_messages):
        name, args, _ = next(m for m in hook_messages if m[0] == webhooks.DISPATCH_TASK)
        hook_messages.remove((name, args, _))
        outcomes.append(webhooks.event_dispatch_run(job_id=args[0], event_id=args[1], worker="d1"))
    return outcomes


def test_a_completed_job_reaches_the_receiver_signed_and_the_verifier_accepts_it(published, hook_messages, receiver):
    endpoint, secret = endpoint_for(receiver)
    job = run_job(published)
    assert list(job.outbox.as_dict().values())[0]["Type"] == "job.completed"  # recorded with the transition's own write
    assert job.outbox_shard == "OUTBOX" and job.status == JobStatus.COMPLETED
    assert dispatch_all(hook_messages) == ["delivered"]
    [got] = receiver.requests
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["type"] == "job.completed" and payload["data"]["id"] == job.job_id
    assert payload["data"]["status"] == "COMPLETED" and payload["data"]["result"] == {"n": 1} and "timeline" not in payload["data"]
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(got.body.replace('"n":1', '"n":2'), got.headers)  # tampered
    old = datetime.now(timezone.utc) - timedelta(minutes=6)
    stale = {**got.headers, "webhook-timestamp": str(int(old.timestamp())),
             "webhook-signature": Webhook(secret).sign(got.headers["webhook-id"], old, got.body)}
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(got.body, stale)
    job = Job.get(job.job_id, JOB_SK, consistent_read=True)
    assert job.outbox.as_dict() == {} and job.outbox_shard is None  # handed over: out of the outbox and its index
    [delivery] = WebhookDelivery.query(endpoint.hook_id)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.event_id == got.headers["webhook-id"]


def test_no_endpoint_no_event_no_attribute(published, hook_messages):
    job = run_job(published)
    assert job.hook_events is None and job.outbox is None and hook_messages == []


def test_500_twice_then_200_is_three_attempts_with_one_webhook_id_delivered_once(published, hook_messages, receiver, settings):
    settings.BATCHLAB_WEBHOOK_RETRY_BASE_SECONDS = 0.01
    receiver.answers = [500, 500, 200]
    endpoint, secret = endpoint_for(receiver)
    run_job(published)
    assert dispatch_all(hook_messages) == ["retrying"]
    outcomes = []
    while not outcomes or outcomes[-1] == "retrying":
        [(name, (hook_id, event_id), delay)] = [m for m in hook_messages if m[0] == webhooks.DELIVER_TASK]
        hook_messages.clear()
        assert delay <= 900
        time.sleep(max(0.0, WebhookDelivery.get(hook_id, event_id).next_attempt_at - time.time()))
        outcomes.append(webhooks.delivery_run(hook_id=hook_id, event_id=event_id, worker="d1"))
    assert outcomes == ["retrying", "delivered"]
    assert len(receiver.requests) == 3 and len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    for got in receiver.requests:
        Webhook(secret).verify(got.body, got.headers)
    delivery = WebhookDelivery.get(hook_id, event_id)
    assert [a.status_code for a in delivery.attempt_log] == [500, 500, 200] and delivery.status == "DELIVERED"
    assert delivery.attempt_log[0].response == "answer 500"
    assert webhooks.delivery_run(hook_id=hook_id, event_id=event_id, worker="d2") == "skipped:final"  # a duplicate message
    assert len(receiver.requests) == 3


def test_410_fails_the_delivery_and_disables_the_endpoint(published, hook_messages, receiver):
    receiver.answers = [410]
    endpoint, _ = endpoint_for(receiver)
    run_job(published)
    assert dispatch_all(hook_messages) == ["failed"]
    endpoint = WebhookEndpoint.get("alice", endpoint.hook_id)
    assert endpoint.state == "disabled" and "410" in endpoint.disabled_reason
    assert run_job(published).hook_events is None  # a job submitted now wants nothing: no event, no message
    assert dispatch_all(hook_messages) == [] and len(receiver.requests) == 1


def test_an_endpoint_failing_for_five_days_is_disabled(published, hook_messages, receiver, settings):
    receiver.answers = [503]
    endpoint, _ = endpoint_for(receiver)
    WebhookEndpoint("alice", endpoint.hook_id).update(actions=[WebhookEndpoint.failing_since.set(time.time() - 5 * 86400 - 60)])
    run_job(published)
    assert dispatch_all(hook_messages) == ["retrying"]
    endpoint = WebhookEndpoint.get("alice", endpoint.hook_id)
    assert endpoint.state == "disabled" and "failed for 5.0 days" in endpoint.disabled_reason


def test_the_last_try_is_at_the_end_of_the_window_then_the_delivery_is_failed_and_kept(published, hook_messages, receiver, settings):
    settings.BATCHLAB_WEBHOOK_RETRY_WINDOW_SECONDS = 86400 + 600
    receiver.answers = [500]
    endpoint_for(receiver)
    run_job(published)
    dispatch_all(hook_messages)
    [delivery] = WebhookDelivery.scan()
    span, tries, now = 0.0, 1, time.time()
    while True:  # the schedule the backoff makes over the window (no sleeping: next_try_at is pure)
        delivery.attempts = tries
        at = webhooks.deliveries.next_try_at(delivery=delivery, now=now + span)
        if at is None:
            break
        span, tries = at - now, tries + 1
    assert span >= 24 * 3600 and tries < 40
    WebhookDelivery(delivery.hook_id, delivery.event_id).update(actions=[
        WebhookDelivery.retry_until.set(time.time() - 5), WebhookDelivery.next_attempt_at.set(time.time() - 1)])
    assert webhooks.delivery_run(hook_id=delivery.hook_id, event_id=delivery.event_id, worker="d1") == "failed"
    delivery = WebhookDelivery.get(delivery.hook_id, delivery.event_id)
    assert delivery.status == "FAILED" and delivery.due_shard is None and len(delivery.attempt_log) == 2


def test_a_retry_beyond_15_minutes_waits_parked_and_the_due_sweep_releases_it(published, hook_messages, receiver, settings):
    settings.BATCHLAB_WEBHOOK_RETRY_BASE_SECONDS = 3600
    receiver.answers = [500, 200]
    endpoint_for(receiver)
    run_job(published)
    assert dispatch_all(hook_messages) == ["retrying"]
    assert [m for m in hook_messages if m[0] == webhooks.DELIVER_TASK] == []  # no message: parked on the due index
    [delivery] = WebhookDelivery.scan()
    assert delivery.next_attempt_at - time.time() > 900 and delivery.due_at == int(delivery.next_attempt_at)
    assert webhooks.deliveries_release_due() == []  # not due yet
    assert webhooks.deliveries_release_due(now=delivery.next_attempt_at + 1) == [f"{delivery.hook_id}/{delivery.event_id}"]
    assert webhooks.deliveries_release_due(now=delivery.next_attempt_at + 1) == []  # one sweeper publishes it
    assert hook_messages == [(webhooks.DELIVER_TASK, [delivery.hook_id, delivery.event_id], 0)]


def test_an_event_whose_message_was_lost_is_published_again_by_recovery(published, hook_messages, receiver):
    endpoint_for(receiver)
    job = run_job(published)
    hook_messages.clear()  # the dispatch message was lost
    assert webhooks.outboxes_recover(stale_seconds=0) == [f"{job.job_id}/{list(job.outbox.as_dict())[0]}"]
    assert webhooks.outboxes_recover(stale_seconds=5) == []  # OutboxAt moved on: not again at once
    assert dispatch_all(hook_messages) == ["delivered"] and len(receiver.requests) == 1
    assert dispatch_all([(webhooks.DISPATCH_TASK, [job.job_id, list(job.outbox.as_dict())[0]], 0)]) == ["gone"]  # a second copy


def test_a_host_that_rebinds_to_a_private_address_after_creation_is_refused_at_send(published, hook_messages, settings, monkeypatch):
    settings.EMBEDDED = False
    addresses._allowed_networks.cache_clear()
    answer = {"hooks.example.com": ["93.184.216.34"]}
    monkeypatch.setattr(addresses, "resolve", lambda host, port: answer[host])
    posts = []
    monkeypatch.setattr(sender, "post", lambda **kw: posts.append(kw))
    endpoint, _ = webhooks.webhook_create(owner="alice", url="https://hooks.example.com/x", events_wanted=["job.completed"])
    answer["hooks.example.com"] = ["169.254.169.254"]  # DNS rebinding: the metadata address at send time
    run_job(published)
    assert dispatch_all(hook_messages) == ["retrying"] and posts == []  # never connected
    [delivery] = WebhookDelivery.query(endpoint.hook_id)
    assert "address refused" in delivery.attempt_log[0].error and "169.254.169.254" in delivery.attempt_log[0].error
    addresses._allowed_networks.cache_clear()


def test_a_rotated_secret_signs_beside_the_old_one_for_the_overlap(published, hook_messages, receiver):
    endpoint, old = endpoint_for(receiver)
    _, new = webhooks.webhook_rotate_secret(owner="alice", hook_id=endpoint.hook_id)
    run_job(published)
    dispatch_all(hook_messages)
    [got] = receiver.requests
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(got.body, got.headers)
    Webhook(new).verify(got.body, got.headers)


def test_a_job_callback_is_signed_with_the_submitters_secret(published, hook_messages, receiver):
    with pytest.raises(services.webhooks.endpoints.InvalidWebhook, match="GET /webhooks/secret"):
        run_job(published, webhook={"url": receiver.url})
    record, secret = webhooks.callback_secret_ensure(owner="alice")
    assert webhooks.callback_secret_ensure(owner="alice")[1] is None  # shown once
    job = run_job(published, type="fail", payload={"message": "no"}, webhook={"url": receiver.url, "events": ["job.failed"]})
    assert job.status == "FAILED" and dispatch_all(hook_messages) == ["delivered"]
    [got] = receiver.requests
    body = Webhook(secret).verify(got.body, got.headers)
    assert body["type"] == "job.failed" and body["data"]["error"]["message"] == "no"


def test_the_secret_is_never_logged(published, hook_messages, receiver, caplog):
    caplog.set_level("DEBUG")
    endpoint, secret = endpoint_for(receiver)
    webhooks.webhook_rotate_secret(owner="alice", hook_id=endpoint.hook_id)
    run_job(published)
    dispatch_all(hook_messages)
    assert receiver.requests and secret not in caplog.text and secret.removeprefix("whsec_") not in caplog.text


def test_a_large_job_document_is_sent_without_payload_and_result(published, hook_messages, receiver, settings):
    settings.BATCHLAB_WEBHOOK_MAX_BODY_BYTES = 2048
    endpoint_for(receiver)
    run_job(published, payload={"text": "x" * 5000})
    dispatch_all(hook_messages)
    data = json.loads(receiver.requests[0].body)["data"]
    assert data["payload"] is None and data["result"] is None and data["omitted"] == ["payload", "result"]
    assert len(receiver.requests[0].body) <= 2048


@pytest.mark.parametrize("recognised", [True, False])
def test_a_final_write_applied_with_its_answer_lost_still_gets_its_event_delivered(published, hook_messages, receiver, monkeypatch,
                                                                                   recognised):
    """The outbox rides on the transition's own write: applied means the event is there, whatever the writer heard back."""
    from pynamodb.exceptions import UpdateError

    from jobs.services.lease import claim as fencing

    endpoint_for(receiver)
    connection = Job._get_connection()
    real = connection.update_item

    def applied_then_lost(*args, **kwargs):
        result = real(*args, **kwargs)
        if any("COMPLETED" in str(v) for v in (kwargs.get("actions") or [])) or "COMPLETED" in str(kwargs):
            raise UpdateError("Failed to update item: connection reset (the answer was lost)")
        return result

    monkeypatch.setattr(connection, "update_item", applied_then_lost)
    if not recognised:
        monkeypatch.setattr(fencing, "read_quietly", lambda unit: None)  # the re-read fails too: the writer raises
    job, _ = services.job_submit(owner="alice", name="j", type="echo", payload={"n": 1})
    try:
        services.job_execute(job_id=job.job_id, worker="w1")
    except UpdateError:
        assert not recognised
    stored = Job.get(job.job_id, JOB_SK, consistent_read=True)
    assert stored.status == "COMPLETED" and len(stored.outbox.as_dict()) == 1  # the state and its event, together
    if recognised:
        assert [m[0] for m in hook_messages] == [webhooks.DISPATCH_TASK]
    else:
        assert hook_messages == []  # the writer never knew: recovery finds the event in the outbox
        assert len(webhooks.outboxes_recover(stale_seconds=0)) == 1
    assert dispatch_all(hook_messages) == ["delivered"] and len(receiver.requests) == 1


def test_a_hand_over_that_meets_a_conflicting_transaction_is_tried_again(published, hook_messages, receiver, monkeypatch):
    """Real DynamoDB cancels a transaction on an item another one is writing (moto never does): nothing written, try again."""
    from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

    endpoint_for(receiver)
    run_job(published)
    connection = Job._get_connection().connection
    real = connection.transact_write_items
    conflicts = []

    def conflicting(*args, **kwargs):
        if len(conflicts) < 2:
            conflicts.append(1)
            cause = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}},
                                       "TransactWriteItems", cancellation_reasons=[CancellationReason(code="TransactionConflict")])
            raise TransactWriteError("Transaction cancelled", cause=cause)
        return real(*args, **kwargs)

    monkeypatch.setattr(connection, "transact_write_items", conflicting)
    assert dispatch_all(hook_messages) == ["delivered"] and len(conflicts) == 2 and len(receiver.requests) == 1
