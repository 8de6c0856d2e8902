"""The Webhooks pages through Django's test client (moto's in-process AWS, a receiver on 127.0.0.1): the secret once, test, log, redeliver."""

import pytest

from jobs import services
from jobs.services import webhooks
from tests.webhooks.conftest import hook_messages, receiver  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]


def test_create_shows_the_secret_once_then_test_ping_and_redeliver(client, alice, receiver, hook_messages, django_user_model):
    bad = client.post("/ui/webhooks", {"url": "ftp://example.com/x", "events": ["job.completed"]})
    assert bad.status_code == 400 and "https://" in bad.content.decode()
    response = client.post("/ui/webhooks", {"url": receiver.url, "events": ["job.completed"], "description": "mine"})
    page = response.content.decode()
    [endpoint] = webhooks.owner_endpoints(owner="alice")
    secret = endpoint.secrets[0].secret
    assert response.status_code == 200 and secret in page and receiver.url in page
    assert secret not in client.get("/ui/webhooks").content.decode()
    assert secret not in client.get(f"/ui/webhooks/{endpoint.hook_id}").content.decode()
    client.post(f"/ui/webhooks/{endpoint.hook_id}/test")
    [(_, (hook_id, event_id), _)] = hook_messages
    webhooks.delivery_run(hook_id=hook_id, event_id=event_id, worker="d")
    page = client.get(f"/ui/webhooks/{endpoint.hook_id}").content.decode()
    assert "ping" in page and "delivered" in page and "answer 200" in page and "Redeliver" in page
    client.post(f"/ui/webhooks/{endpoint.hook_id}/redeliver", {"delivery": event_id})
    assert len([m for m in hook_messages if m[0] == webhooks.DELIVER_TASK]) == 2
    rotated = client.post(f"/ui/webhooks/{endpoint.hook_id}/rotate").content.decode()
    assert "New signing secret" in rotated and "whsec_" in rotated
    other = django_user_model.objects.create_user("bob", password="pw")
    client.force_login(other)
    assert client.get(f"/ui/webhooks/{endpoint.hook_id}").status_code == 404
    assert client.post(f"/ui/webhooks/{endpoint.hook_id}/delete").status_code == 404


def test_the_job_page_shows_its_deliveries(client, alice, receiver, hook_messages, published):
    webhooks.webhook_create(owner="alice", url=receiver.url, events_wanted=["job.completed"])
    job, _ = services.job_submit(owner="alice", name="j", type="echo", payload={})
    services.job_execute(job_id=job.job_id, worker="w")
    [(_, (job_id, event_id), _)] = hook_messages
    webhooks.event_dispatch_run(job_id=job_id, event_id=event_id, worker="d")
    page = client.get(f"/ui/jobs/{job.job_id}").content.decode()
    assert "Webhook deliveries" in page and event_id in page and "delivered" in page


def test_a_create_form_sent_again_by_a_refresh_makes_no_second_endpoint(client, alice, receiver):
    form = client.get("/ui/webhooks").content.decode()
    form_id = form.split('name="form_id" value="')[1].split('"')[0]
    body = {"url": receiver.url, "events": ["job.completed"], "form_id": form_id}
    first = client.post("/ui/webhooks", body)
    assert first.status_code == 200 and "whsec_" in first.content.decode()
    again = client.post("/ui/webhooks", body)  # the browser's "resend" of the answer above
    [endpoint] = webhooks.owner_endpoints(owner="alice")
    assert again.status_code == 302 and again["Location"] == f"/ui/webhooks/{endpoint.hook_id}"
    assert "whsec_" not in client.get(again["Location"]).content.decode()
    other = client.post("/ui/webhooks", {**body, "form_id": "another form"})
    assert other.status_code == 200 and len(webhooks.owner_endpoints(owner="alice")) == 2
