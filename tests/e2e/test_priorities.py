"""Priorities on real processes (moto servers, 2 workers x 4, gunicorn): a high job jumps a 2,000-job low backlog,
and low still moves while a high backlog is full.

The share is measured first (its low backlog outlives it); the jump then runs behind
that and 2,000 more low jobs. Outcomes are asserted (the high job started while the low queue still held messages;
low's share of the starts while both backlogs were full); the times are printed for
docs/flow-control.md, never asserted.
"""

import statistics
import time
from datetime import datetime

import boto3
import pytest

from tests.e2e.conftest import Api
from tests.e2e.helpers import queue_depth, wait_until

LOW_BACKLOG = 2000
TRIES = 10


@pytest.fixture(scope="module")
def stack(make_stack):
    return make_stack(workers=2, BATCHLAB_WORKER_CONCURRENCY=4, BATCHLAB_LOG_LEVEL="WARNING")


@pytest.fixture(scope="module")
def api(stack) -> Api:
    return Api(stack.web_url)  # the demo account's API token (tests/e2e/conftest.py)


def bulk(api: Api, *, count: int, priority: str, type: str = "echo", name: str = "backlog") -> list[str]:
    ids = []
    for start in range(0, count, 100):
        jobs = [{"name": f"{name}-{i}", "type": type, "payload": {"i": i}, "priority": priority}
                for i in range(start, min(count, start + 100))]
        response = api.post("/jobs/bulk", json={"jobs": jobs})
        assert response.status_code == 201, response.text
        ids += [r["id"] for r in response.json()["results"]]
    return ids


def parse(at: str) -> float:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()


def started_at(stack) -> dict[str, tuple[str, float]]:
    """Job id -> (priority, start time) of every started job, read straight from the moto DynamoDB."""
    client = boto3.client("dynamodb", endpoint_url=stack.dynamodb_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    out, kwargs = {}, {"TableName": "batchlab-jobs", "ProjectionExpression": "JobId, Priority, StartedAt"}
    while True:
        page = client.scan(**kwargs)
        for item in page["Items"]:
            if "StartedAt" in item:
                out[item["JobId"]["S"]] = (item.get("Priority", {}).get("S", "normal"), parse(item["StartedAt"]["S"]))
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_low_keeps_its_share_while_a_high_backlog_is_full(stack, api):
    low = set(bulk(api, count=800, priority="low", name="share-low"))
    high = set(bulk(api, count=500, priority="high", name="share-high"))
    both_full_from = time.time()  # every high job is queued (while they were being sent, high ran dry between requests)
    wait_until(lambda: sum(queue_depth(stack, "batchlab-jobs-high").values()) == 0, timeout=600, interval=2,
               what="the high backlog drains")
    starts = started_at(stack)
    assert high <= set(starts)
    assert any(j not in starts or starts[j][1] > max(starts[h][1] for h in high) for j in low)  # low was full throughout
    both_full_until = max(starts[j][1] for j in high)  # the high backlog lasted until its last start
    window = [j for j, (_, at) in starts.items() if both_full_from <= at <= both_full_until and (j in low or j in high)]
    low_share = sum(1 for j in window if j in low) / len(window)
    print(f"\nwhile both backlogs were full: {len(window)} starts, low {low_share:.1%} (weights 6:1 give 14%)")
    assert low_share >= 0.05  # no starvation: low moves at its share
    assert sum(1 for j in window if j in high) >= 3 * sum(1 for j in window if j in low)  # and high comes first


def test_a_high_job_jumps_a_2000_job_low_backlog(stack, api):
    bulk(api, count=LOW_BACKLOG, priority="low")  # on top of what the test before left of its low backlog
    wait_until(lambda: queue_depth(stack, "batchlab-jobs-low")["in_flight"] > 0, timeout=60, what="the workers take low jobs")
    waits, behind = [], []
    for n in range(TRIES):
        response = api.post("/jobs", json={"name": f"urgent-{n}", "type": "echo", "payload": {"try": n}, "priority": "high"})
        assert response.status_code == 201, response.text
        job = api.wait(response.json()["id"], timeout=60)
        assert job["status"] == "COMPLETED" and job["priority"] == "high"
        behind.append(queue_depth(stack, "batchlab-jobs-low")["visible"])  # low jobs it did not wait for
        waits.append(parse(job["started_at"]) - parse(job["created_at"]))
    print(f"\nhigh job start after submission, {TRIES} tries behind a {LOW_BACKLOG}-job low backlog: "
          f"p50 {statistics.median(waits):.3f} s, max {max(waits):.3f} s; low messages still queued: {behind}")
    assert all(b > 0 for b in behind), behind  # every one started with the low backlog still there
