"""Throttling and 5xx on the API path: DynamoDB ProvisionedThroughputExceededException, SQS 500.

Every such answer (after the SDK's own retries) is a 503 problem+json with a
stable code and a Retry-After header; nothing is half-written: a refused
PutItem leaves no job, a job stored whose message could not be sent is queued
by the recovery pass and runs once.
"""

import requests

from tests.faults.checker import history_jobs
from tests.faults.proxy import Rule, throttled_dynamodb
from tests.faults.scenario import api_token, close_with_check

ENV = {"BATCHLAB_STALE_QUEUED_SECONDS": 3, "BATCHLAB_RETRY_AFTER_SECONDS": 7}
SQS_500 = b'{"__type":"com.amazonaws.sqs#InternalError","message":"We encountered an internal error."}'


def post_job(stack, headers):
    return requests.post(f"{stack.web_url}/jobs", json={"name": "t", "type": "effect", "payload": {}}, headers=headers, timeout=60)


def assert_503(response, code: str):
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.headers["Retry-After"] == "7"
    assert response.json()["code"] == code


def test_throttling_on_the_api_path_is_503_with_retry_after_and_nothing_half_written(fault_stack):
    stack = fault_stack(workers=1, **ENV)
    headers = {"Authorization": f"Token {api_token(stack)}"}
    known = post_job(stack, headers).json()["id"]
    before = len(history_jobs(stack))

    stack.dynamodb_proxy.set_rules(Rule("error", 1.0, ops=("PutItem", "GetItem"), **throttled_dynamodb()))
    for _ in range(3):
        assert_503(post_job(stack, headers), "store_unavailable")
    assert_503(requests.get(f"{stack.web_url}/jobs/{known}", headers=headers, timeout=60), "store_unavailable")
    stack.clear_faults()
    assert len(history_jobs(stack)) == before  # no job was stored by a refused POST

    stack.sqs_proxy.set_rules(Rule("error", 1.0, ops=("SendMessage",), status=500, body=SQS_500))
    response = post_job(stack, headers)
    assert_503(response, "queue_unavailable")
    stored = response.json()["job_id"]
    throttles = stack.injected()
    verdict = close_with_check(stack, [known, stored], "throttling on the API path", timeout=60)
    assert verdict.ok and verdict.by_status == {"COMPLETED": 2} and verdict.effects == 2, verdict.table("throttling")
    assert throttles["dynamodb error"] >= 4 and throttles["sqs error"] >= 1, throttles
