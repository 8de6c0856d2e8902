"""A job's own callback on every way in: POST /jobs/bulk (per job), POST /jobs with items, POST /jobs/files (a JSON string in the form); in-process."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from standardwebhooks.webhooks import Webhook

from jobs import services
from jobs.tables import JOB_SK, Job
from tests.webhooks.test_delivery import dispatch_all

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]


def test_bulk_item_and_file_jobs_carry_their_own_callback(alice, published, chunk_messages, hook_messages, receiver):
    secret = alice.get("/webhooks/secret").json()["secret"]
    callback = {"url": receiver.url, "events": ["job.completed"]}
    bulk = alice.post("/jobs/bulk", {"jobs": [{"name": "a", "type": "echo", "payload": {}, "webhook": callback},
                                              {"name": "b", "type": "echo", "payload": {}}]}, format="json")
    assert bulk.status_code == 201, bulk.content
    with_callback, without = [r["id"] for r in bulk.json()["results"]]
    items = alice.post("/jobs", {"name": "i", "type": "checksum", "items": ["x", "y"], "webhook": callback}, format="json")
    assert items.status_code == 201, items.content
    upload = SimpleUploadedFile("items.ndjson", b'"p"\n"q"\n', content_type="application/x-ndjson")
    filed = alice.post("/jobs/files", {"name": "f", "type": "checksum", "file": upload, "webhook": json.dumps(callback)},
                       format="multipart")
    assert filed.status_code == 201, filed.content
    assert Job.get(without, JOB_SK).hook_events is None and Job.get(with_callback, JOB_SK).webhook.as_dict()["Url"] == receiver.url
    for job_id in (with_callback, without):
        services.job_execute(job_id=job_id, worker="w")
    for job_id, number in list(chunk_messages):
        services.chunk_execute(job_id=job_id, number=number, worker="w")
    assert dispatch_all(hook_messages) == ["delivered"] * 3
    got = {Webhook(secret).verify(r.body, r.headers)["data"]["id"] for r in receiver.requests}
    assert got == {with_callback, items.json()["id"], filed.json()["id"]}


def test_a_bad_callback_in_a_bulk_request_names_its_job_and_nothing_is_written(alice, published):
    alice.get("/webhooks/secret")
    response = alice.post("/jobs/bulk", {"jobs": [
        {"name": "a", "type": "echo", "payload": {}, "idempotency_key": "k-1"},  # a keyed job: written on its own, first
        {"name": "b", "type": "echo", "payload": {}, "webhook": {"url": "ftp://x/y"}},
        {"name": "c", "type": "echo", "payload": {}, "webhook": {"url": "http://127.0.0.1:9/", "events": ["job.done"]}},
    ]}, format="json")
    assert response.status_code == 400 and response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "validation_error" and sorted(body["errors"]) == ["jobs[1].webhook.url", "jobs[2].webhook.events"]
    assert Job.count() == 0 and published == []  # all or nothing
