"""The whole flow on real processes: HTTP -> DynamoDB -> SQS -> celery worker -> DynamoDB -> HTTP."""

import hashlib
import re
import time

import boto3
import pytest

from tests.e2e.conftest import run_log


def test_echo_job_goes_queued_processing_completed(api):
    job = api.submit("echo", {"message": "hi", "n": [1, 2]})
    assert job["status"] == "QUEUED"
    done = api.wait(job["id"])
    assert done["status"] == "COMPLETED"
    assert done["result"] == {"message": "hi", "n": [1, 2]}
    events = [e["status"] for e in done["timeline"]]
    assert events == ["QUEUED", "PROCESSING", "COMPLETED"]
    assert done["attempts"] == 1


def test_post_answers_201_with_location(api):
    response = api.post("/jobs", json={"name": "loc", "type": "echo", "payload": {}})
    assert response.status_code == 201
    assert response.headers["Location"] == f"/jobs/{response.json()['id']}"


@pytest.mark.parametrize(
    "type,payload,check",
    [
        ("sleep", {"seconds": 1.5}, lambda r, j: r == {"slept": 1.5} and j["progress"] == {"done": 2, "total": 2}),
        (
            "checksum",
            {"items": ["a", "b", "ü"]},
            lambda r, j: r["digests"] == [hashlib.sha256(x.encode()).hexdigest() for x in ["a", "b", "ü"]]
            and j["progress"] == {"done": 3, "total": 3},
        ),
        (
            "wordcount",
            {"text": "the cat and the hat\nthe end"},
            lambda r, j: r["lines"] == 2 and r["words"] == 7 and r["characters"] == 27
            and r["top_words"][0] == {"word": "the", "count": 3},
        ),
    ],
)
def test_builtin_types_complete_with_their_results(api, type, payload, check):
    job = api.wait(api.submit(type, payload)["id"])
    assert job["status"] == "COMPLETED", job
    assert check(job["result"], job), job


def test_flaky_succeeds_after_its_retries_with_attempts_recorded(api):
    job = api.wait(api.submit("flaky", {"failures": 2})["id"])
    assert job["status"] == "COMPLETED"
    assert job["attempts"] == 3
    assert job["result"] == {"succeeded_on_attempt": 3}
    assert job["error"] is None
    retries = [e for e in job["timeline"] if e["event"] == "retry_scheduled"]
    assert len(retries) == 2 and "Simulated transient failure 1 of 2" in retries[0]["message"]


def test_flaky_beyond_max_attempts_fails(api):
    job = api.wait(api.submit("flaky", {"failures": 5})["id"], timeout=60)
    assert job["status"] == "FAILED"
    assert job["attempts"] == 3
    assert job["error"]["code"] == "max_attempts_exceeded"


def test_fail_ends_failed_with_its_message_and_no_retry(api):
    job = api.wait(api.submit("fail", {"message": "the disk is on fire"})["id"])
    assert job["status"] == "FAILED"
    assert job["error"] == {"code": "permanent_error", "message": "the disk is on fire"}
    assert job["attempts"] == 1


def test_same_job_published_twice_runs_once(api, stack):
    """A duplicate message (at-least-once delivery) never runs a finished job again."""
    from batchlab.celery import app

    job = api.submit("countrun", {"seconds": 0.2})
    api.wait(job["id"])
    # Publish the same id again straight to the queue, as SQS might redeliver it.
    with app.connection_for_write(stack.env()["AWS_ENDPOINT_URL_SQS"].replace("http://", "sqs://testing:testing@")) as conn:
        app.send_task("jobs.process_job", args=[job["id"]], connection=conn, queue="jobs")
    deadline = time.monotonic() + 15
    refused = re.compile(rf"job {job['id']} not claimed by \S+: final")
    while time.monotonic() < deadline and not refused.search((stack.log_dir / "worker1.log").read_text()):
        time.sleep(0.2)
    assert refused.search((stack.log_dir / "worker1.log").read_text())
    starts = [line for line in run_log(stack) if line.startswith(f"{job['id']} start")]
    assert len(starts) == 1


def test_data_is_really_in_the_moto_servers(api, stack):
    job = api.wait(api.submit("echo", {"x": 1})["id"])
    env = stack.env()
    ddb = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"], region_name="us-east-1")
    item = ddb.get_item(TableName="batchlab-jobs", Key={"JobId": {"S": job["id"]}, "SK": {"S": "JOB"}})["Item"]
    assert item["Status"]["S"] == "COMPLETED" and item["Owner"]["S"] == "demo"
    sqs = boto3.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL_SQS"], region_name="us-east-1")
    urls = sqs.list_queues(QueueNamePrefix="batchlab-")["QueueUrls"]
    assert sorted(u.rsplit("/", 1)[1] for u in urls) == [
        "batchlab-jobs", "batchlab-jobs-dlq", "batchlab-jobs-high", "batchlab-jobs-high-dlq", "batchlab-jobs-low",
        "batchlab-jobs-low-dlq", "batchlab-webhooks"]
    for name in ("batchlab-jobs", "batchlab-jobs-high", "batchlab-jobs-low"):  # each priority with its own DLQ
        url = next(u for u in urls if u.endswith("/" + name))
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attrs["ReceiveMessageWaitTimeSeconds"] == "20"
        assert f'{name}-dlq"' in attrs["RedrivePolicy"]


def test_listing_filters_and_cursor_pagination(api):
    ids = [api.submit("echo", {"i": i}, name=f"page-{i}")["id"] for i in range(5)]
    for job_id in ids:
        api.wait(job_id)
    first = api.get("/jobs", params={"limit": 2, "type": "echo"}).json()
    assert len(first["results"]) == 2 and first["next_cursor"]
    second = api.get("/jobs", params={"limit": 2, "type": "echo", "cursor": first["next_cursor"]}).json()
    seen = [j["id"] for j in first["results"] + second["results"]]
    assert seen == list(reversed(ids))[:4]  # newest first, no overlap
    many = api.get("/jobs", params={"ids": ",".join(ids[:3])}).json()["results"]
    assert [j["id"] for j in many] == ids[:3]
    failed = api.get("/jobs", params={"status": "FAILED"}).json()["results"]
    assert all(j["status"] == "FAILED" for j in failed)


def test_bad_inputs_get_problem_json(api):
    cases = [
        (api.post("/jobs", data="{not json", headers={"Content-Type": "application/json"}), 400, "malformed_request"),
        (api.post("/jobs", json={"name": "", "type": 3, "payload": []}), 400, "validation_error"),
        (api.post("/jobs", json={"name": "x", "type": "nope", "payload": {}}), 400, "unknown_job_type"),
        (api.get("/jobs/not-a-uuid"), 404, "job_not_found"),
        (api.get("/jobs/00000000-0000-4000-8000-000000000000"), 404, "job_not_found"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert response.json()["code"] == code
    body = cases[1][0].json()
    assert set(body["errors"]) == {"name", "type", "payload"}
    assert "echo" in cases[2][0].json()["detail"]


def test_command_line_client_submits_and_waits(stack):
    import json
    import subprocess
    import sys
    from pathlib import Path

    env = dict(stack.env(), BATCHLAB_URL=stack.web_url, BATCHLAB_USER="demo", BATCHLAB_PASSWORD="demo")
    cli = Path(sys.executable).parent / "batchlab"
    done = subprocess.run([str(cli), "submit", "wordcount", '{"text": "a b a"}', "--wait", "--timeout", "60", "--json"],
                          env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "COMPLETED" and job["result"]["words"] == 3
    bad = subprocess.run([str(cli), "submit", "nope", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and json.loads(bad.stderr)["code"] == "unknown_job_type"
