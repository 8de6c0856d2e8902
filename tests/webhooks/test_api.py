"""The webhooks API through DRF's test client (moto's in-process AWS): what is refused, what is shown, what never is (the secret)."""

import pytest

from jobs.services import webhooks

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:400])
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    return body


def create(client, url, events=("job.completed",), **extra):
    return client.post("/webhooks", {"url": url, "events": list(events), **extra}, format="json")


def test_create_shows_the_secret_once_and_never_again(alice, receiver):
    response = create(alice, receiver.url, description="ci")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["job.completed"] and body["enabled"] is True
    secret = body["secret"]
    for path in ("/webhooks", f"/webhooks/{body['id']}", f"/webhooks/{body['id']}/deliveries"):
        got = alice.get(path)
        assert got.status_code == 200 and secret not in got.content.decode() and "secret\"" not in got.content.decode()
    assert [w["id"] for w in alice.get("/webhooks").json()["results"]] == [body["id"]]


@pytest.mark.parametrize("url,events,field", [
    ("not a url", ["job.completed"], "url"),
    ("ftp://example.com/hook", ["job.completed"], "url"),
    ("http://10.0.0.1/hook", ["job.completed"], "url"),  # private, refused although the embedded mode takes http
    ("http://169.254.169.254/latest", ["job.completed"], "url"),
    ("http://127.0.0.1:9/hook", ["job.finished"], "events"),
    ("http://127.0.0.1:9/hook", [], "events"),
])
def test_bad_urls_and_events_are_refused_with_a_400_problem(alice, url, events, field):
    body = problem(create(alice, url, events), 400, "validation_error")
    assert field in body["errors"], body


def test_another_users_endpoint_is_a_404_and_staff_see_all(alice, bob, receiver, django_user_model):
    hook_id = create(alice, receiver.url).json()["id"]
    for response in (bob.get(f"/webhooks/{hook_id}"), bob.patch(f"/webhooks/{hook_id}", {"enabled": False}, format="json"),
                     bob.delete(f"/webhooks/{hook_id}"), bob.post(f"/webhooks/{hook_id}/test"),
                     bob.post(f"/webhooks/{hook_id}/rotate-secret"), bob.get(f"/webhooks/{hook_id}/deliveries")):
        problem(response, 404, "webhook_not_found")
    assert bob.get("/webhooks").json()["results"] == []
    from rest_framework.test import APIClient

    staff = APIClient()
    staff.force_authenticate(django_user_model.objects.create_user("admin", password="pw", is_staff=True))
    assert [w["id"] for w in staff.get("/webhooks").json()["results"]] == [hook_id]
    assert staff.get(f"/webhooks/{hook_id}").status_code == 200


def test_patch_disable_enable_delete(alice, receiver):
    hook_id = create(alice, receiver.url).json()["id"]
    body = alice.patch(f"/webhooks/{hook_id}", {"enabled": False, "events": ["job.failed", "job.canceled"]}, format="json").json()
    assert body["enabled"] is False and body["disabled_reason"] == "Disabled by its owner." and body["events"] == ["job.failed", "job.canceled"]
    assert alice.patch(f"/webhooks/{hook_id}", {"enabled": True}, format="json").json()["disabled_reason"] is None
    problem(alice.patch(f"/webhooks/{hook_id}", {"url": "ftp://x"}, format="json"), 400, "validation_error")
    assert alice.delete(f"/webhooks/{hook_id}").status_code == 204
    problem(alice.get(f"/webhooks/{hook_id}"), 404, "webhook_not_found")


def test_rotate_gives_a_new_secret_and_two_sign(alice, receiver):
    created = create(alice, receiver.url).json()
    rotated = alice.post(f"/webhooks/{created['id']}/rotate-secret").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"] and rotated["signing_secrets"] == 2


def test_the_callback_secret_is_made_on_first_use_and_shown_then_only(alice):
    first = alice.get("/webhooks/secret")
    assert first.status_code == 201 and first.json()["secret"].startswith("whsec_") and first.json()["kind"] == "callbacks"
    again = alice.get("/webhooks/secret")
    assert again.status_code == 200 and again.json()["secret"] is None and again.json()["id"] == first.json()["id"]
    assert alice.get("/webhooks").json()["results"] == []  # not listed among the subscriptions


def test_a_job_with_a_callback_needs_the_secret_and_a_valid_url(alice, published):
    body = {"name": "j", "type": "echo", "payload": {}}
    problem(alice.post("/jobs", {**body, "webhook": {"url": "http://127.0.0.1:9/x"}}, format="json"), 400, "validation_error")
    alice.get("/webhooks/secret")
    problem(alice.post("/jobs", {**body, "webhook": {"url": "ftp://x/y"}}, format="json"), 400, "validation_error")
    problem(alice.post("/jobs", {**body, "webhook": {"url": "http://127.0.0.1:9/x", "events": ["job.done"]}}, format="json"),
            400, "validation_error")
    problem(alice.post("/jobs", {**body, "webhook": {"uri": "http://127.0.0.1:9/x"}}, format="json"), 400, "validation_error")
    assert alice.post("/jobs", {**body, "webhook": {"url": "http://127.0.0.1:9/x"}}, format="json").status_code == 201


def test_ping_redeliver_and_the_deliveries_views(alice, bob, receiver, hook_messages):
    hook_id = create(alice, receiver.url).json()["id"]
    ping = alice.post(f"/webhooks/{hook_id}/test")
    assert ping.status_code == 202 and ping.json()["event_type"] == "ping" and ping.json()["status"] == "PENDING"
    [(_, (hid, event_id), _)] = hook_messages
    assert webhooks.delivery_run(hook_id=hid, event_id=event_id, worker="d1") == "delivered"
    page = alice.get(f"/webhooks/{hook_id}/deliveries").json()
    assert [d["status"] for d in page["results"]] == ["DELIVERED"] and page["results"][0]["attempt_log"][0]["status_code"] == 200
    detail = alice.get(f"/webhooks/{hook_id}/deliveries/{event_id}").json()
    assert '"type":"ping"' in detail["body"]
    again = alice.post(f"/webhooks/{hook_id}/deliveries/{event_id}/redeliver")
    assert again.status_code == 202 and again.json()["status"] == "PENDING"
    problem(alice.post(f"/webhooks/{hook_id}/deliveries/{event_id}/redeliver"), 409, "webhook_state_conflict")
    assert webhooks.delivery_run(hook_id=hid, event_id=event_id, worker="d1") == "delivered"
    assert len(receiver.requests) == 2 and receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    problem(alice.get(f"/webhooks/{hook_id}/deliveries/evt_nope"), 404, "delivery_not_found")
    problem(bob.get(f"/webhooks/{hook_id}/deliveries/{event_id}"), 404, "webhook_not_found")


def test_a_jobs_deliveries(alice, bob, receiver, published, hook_messages):
    create(alice, receiver.url)
    job_id = alice.post("/jobs", {"name": "j", "type": "echo", "payload": {}}, format="json").json()["id"]
    from jobs import services

    services.job_execute(job_id=job_id, worker="w")
    [(_, (jid, event_id), _)] = [m for m in hook_messages if m[0] == webhooks.DISPATCH_TASK]
    webhooks.event_dispatch_run(job_id=jid, event_id=event_id, worker="d")
    [delivery] = alice.get(f"/jobs/{job_id}/deliveries").json()["results"]
    assert delivery["event_type"] == "job.completed" and delivery["status"] == "DELIVERED"
    problem(bob.get(f"/jobs/{job_id}/deliveries"), 404, "job_not_found")
