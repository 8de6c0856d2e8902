"""What flow control costs, measured by the AWS meter on real processes (moto servers, 2 workers x 4, gunicorn).

Prints the figures docs/flow-control.md quotes: DynamoDB requests and write units per job
with no limit, with a concurrency limit that is never full, and with a rate that holds
jobs back; and the SQS sends, receives and DynamoDB writes per waiting job per minute.
The asserts check what the docs claim of them: a type without limits writes no limiter
and sends no transaction; a limited claim is one transaction plus one release per limiter;
a waiting job uses no attempt and comes back at most a bounded number of times a minute.
"""

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from batchlab import awsmeter
from tests.e2e.conftest import Api
from tests.e2e.helpers import wait_until

BATCH = 40
HOLD_SECONDS = 60  # the window over which a waiting job's requests are counted: "per minute"


@pytest.fixture(scope="module")
def stack(make_stack, tmp_path_factory):
    meter = tmp_path_factory.mktemp("meter")
    stack = make_stack(workers=2, BATCHLAB_WORKER_CONCURRENCY=4, BATCHLAB_AWS_METER_DIR=str(meter))
    stack.meter_dir = meter
    return stack


@pytest.fixture(scope="module")
def staff(stack) -> Api:
    return Api(stack.web_url, "admin")


def totals(stack) -> dict:
    time.sleep(awsmeter.FLUSH_SECONDS + 0.3)  # each process writes its totals this often: the last ones are in
    return awsmeter.totals_read(stack.meter_dir)


def delta(before: dict, after: dict, kind: str) -> dict:
    return {k: v - before[kind].get(k, 0) for k, v in after[kind].items() if v - before[kind].get(k, 0)}


def per(values: dict, n: int) -> dict:
    return {k: round(float(v) / n, 2) for k, v in sorted(values.items())}


def run_batch(stack, api: Api, type: str, n: int = BATCH) -> tuple[dict, dict, list[dict]]:
    before = totals(stack)
    response = api.post("/jobs/bulk", json={"jobs": [{"name": f"cost-{i}", "type": type, "payload": {}} for i in range(n)]})
    assert response.status_code == 201, response.text
    jobs = [api.wait(job["id"], timeout=300) for job in response.json()["results"]]
    assert all(job["status"] == "COMPLETED" and job["attempts"] == 1 for job in jobs)
    after = totals(stack)
    return delta(before, after, "requests"), delta(before, after, "write_units"), jobs


def gauges(stack) -> tuple[float, float]:
    """(batchlab_jobs_running{type=countrun}, batchlab_jobs_waiting{type=countrun, reason=concurrency_limit}) now."""
    found = {}
    for family in text_string_to_metric_families(requests.get(f"{stack.web_url}/metrics", timeout=30).text):
        for sample in family.samples:
            if sample.labels in ({"type": "countrun"}, {"type": "countrun", "reason": "concurrency_limit"}):
                found[sample.name] = sample.value
    return found.get("batchlab_jobs_running", 0.0), found.get("batchlab_jobs_waiting", 0.0)


def limit(staff: Api, type: str, **changes) -> None:
    response = staff.session.patch(staff.url(f"/job-types/{type}"), json=changes, timeout=30)
    assert response.status_code == 200, response.text
    time.sleep(5)  # every worker applies an edit within this (BATCHLAB_TYPE_SETTINGS_SECONDS 2, the bound 5)


def test_the_cost_of_a_limit_per_job(stack, api, staff):
    off, off_units, _ = run_batch(stack, api, "echo")
    assert "dynamodb.TransactWriteItems" not in off  # no limit: the claim is the one UpdateItem it always was
    limit(staff, "echo", concurrency_limit=100)
    on, on_units, _ = run_batch(stack, api, "echo")
    limit(staff, "echo", concurrency_limit=None, rate_limit="10/s")
    rated, rated_units, jobs = run_batch(stack, api, "echo")
    limit(staff, "echo", rate_limit=None)
    # A limit never full: one transaction per claim (the claim and the limiter), one release per job.
    assert on.get("dynamodb.TransactWriteItems", 0) >= BATCH
    waited = sum(any(e["event"] == "waiting" for e in job["timeline"]) for job in jobs)
    for name, counts, units in (("no limit", off, off_units), ("concurrency_limit 100 (never full)", on, on_units),
                                  ("rate_limit 10/s", rated, rated_units)):
        dynamodb = {k: v for k, v in counts.items() if k.startswith("dynamodb.")}
        sqs = {k: v for k, v in counts.items() if k.startswith("sqs.")}
        print(f"\n{name}, per job ({BATCH} jobs): DynamoDB {sum(dynamodb.values()) / BATCH:.2f} requests "
              f"{per(dynamodb, BATCH)}, {float(sum(units.values())) / BATCH:.2f} write units; "
              f"SQS {sum(sqs.values()) / BATCH:.2f} requests {per(sqs, BATCH)}")
    print(f"rate_limit 10/s: {waited} of {BATCH} jobs waited at least once")


def test_what_a_waiting_job_costs_a_minute(stack, api, staff):
    limit(staff, "countrun", concurrency_limit=1)
    blocker = api.post("/jobs", json={"name": "blocker", "type": "countrun", "payload": {"seconds": HOLD_SECONDS + 30}}).json()["id"]
    wait_until(lambda: api.get(f"/jobs/{blocker}").json()["status"] == "PROCESSING", timeout=60, what="the blocker runs")
    ids = [api.post("/jobs", json={"name": f"held-{i}", "type": "countrun", "payload": {"seconds": 0}}).json()["id"] for i in range(10)]
    wait_until(lambda: all(api.get(f"/jobs/{j}").json().get("waiting_for") == "concurrency_limit" for j in ids),
               timeout=60, what="the ten wait for the slot")
    # /metrics shows them: the blocker running, the ten waiting for the slot (at most BATCHLAB_METRICS_CACHE_SECONDS old).
    wait_until(lambda: gauges(stack) == (1.0, 10.0), timeout=30, what="/metrics: 1 countrun running, 10 waiting")
    before, started = totals(stack), time.monotonic()
    wait_until(lambda: time.monotonic() - started >= HOLD_SECONDS, timeout=HOLD_SECONDS + 30, interval=1,
               what="a minute of waiting")  # the measuring window itself, not a wait for an outcome
    after = totals(stack)
    held = [api.get(f"/jobs/{j}").json() for j in ids]
    assert all(job["status"] == "QUEUED" and job["attempts"] == 0 for job in held)  # waiting uses no attempt
    requests, units = delta(before, after, "requests"), delta(before, after, "write_units")
    minutes = (time.monotonic() - started) / 60
    sends = requests.get("sqs.SendMessage", 0) / len(ids) / minutes
    writes = sum(v for k, v in requests.items() if k in ("dynamodb.TransactWriteItems", "dynamodb.UpdateItem", "dynamodb.PutItem",
                                                          "dynamodb.DeleteItem")) / len(ids) / minutes
    print(f"\n10 jobs waiting for a slot (concurrency_limit 1, cap {30} s) over {minutes:.2f} min, per job per minute: "
          f"{sends:.2f} SendMessage (each one receive later), {writes:.2f} DynamoDB writes, "
          f"{float(sum(units.values())) / len(ids) / minutes:.2f} write units; all requests: {per(requests, len(ids))}")
    # The doubling delay, capped at 30 s with jitter x0.5-1: at most 60 / 15 = 4 sends a minute once at the cap,
    # plus the ramp (1, 2, 4, 8, 16 s) if it fell in the window; a tight loop would be hundreds.
    assert sends <= 10
    response = staff.post(f"/jobs/{blocker}/cancel")
    assert response.status_code in (200, 202), response.text
    jobs = [api.wait(j, timeout=180) for j in ids]
    assert all(job["status"] == "COMPLETED" for job in jobs)
    limit(staff, "countrun", concurrency_limit=None)
