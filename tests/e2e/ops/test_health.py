"""/healthz answers without asking anyone; /readyz checks DynamoDB and SQS (503 when either is down) and counts workers."""

import requests

from devstack.launcher import free_port
from tests.e2e.ops.conftest import wait_for


def test_readyz_reports_each_check_with_its_latency_and_the_live_workers(stack):
    # One worker and its delivery worker (a child running the webhooks queue), each recording itself.
    wait_for(lambda: requests.get(f"{stack.web_url}/readyz", timeout=30).json()["workers"].get("alive") == 2,
             what="the worker and its delivery worker alive")
    response = requests.get(f"{stack.web_url}/readyz", timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    for name in ("dynamodb", "sqs"):
        assert body["checks"][name]["ok"] is True and body["checks"][name]["ms"] >= 0
    assert body["workers"]["alive"] == 2 and body["workers"]["stale"] == 0
    assert requests.get(f"{stack.web_url}/healthz", timeout=30).json() == {"status": "ok"}


def test_with_dynamodb_unreachable_readyz_is_503_and_healthz_still_200(extra_web):
    # A web server of the same stack whose DynamoDB endpoint is a closed port.
    url = extra_web(AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{free_port()}")
    ready = requests.get(f"{url}/readyz", timeout=60)
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert body["checks"]["dynamodb"]["ok"] is False and body["checks"]["dynamodb"]["error"]
    assert body["checks"]["sqs"]["ok"] is True
    live = requests.get(f"{url}/healthz", timeout=10)
    assert live.status_code == 200 and live.json() == {"status": "ok"}


def test_with_sqs_unreachable_readyz_is_503(extra_web):
    url = extra_web(AWS_ENDPOINT_URL_SQS=f"http://127.0.0.1:{free_port()}")
    body = requests.get(f"{url}/readyz", timeout=60)
    assert body.status_code == 503
    assert body.json()["checks"]["sqs"]["ok"] is False and body.json()["checks"]["dynamodb"]["ok"] is True
