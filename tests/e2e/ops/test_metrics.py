"""Prometheus metrics on real processes: counters and histograms from the worker's prefork children (multiprocess
mode, summed on the worker's own endpoint), submissions from the web's gunicorn workers, gauges at scrape time."""

import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from devstack.launcher import wait_for_port
from tests.e2e.ops.conftest import wait_for


def samples(url: str) -> dict:
    """{(name, frozenset(labels.items())): value} of one scrape."""
    response = requests.get(url, timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(scrape: dict, name: str, **labels) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


def test_worker_metrics_add_up_over_its_prefork_children(stack, api):
    port = stack.worker_metrics_ports["worker1"]
    wait_for_port("127.0.0.1", port, timeout=60, proc=stack.processes["worker1"], name="worker metrics")
    endpoint = f"http://127.0.0.1:{port}/metrics"
    before = samples(endpoint)
    # 1.5 s each, submitted together: while one child sleeps, the next job must go to the other.
    jobs = [api.submit("sleep", {"seconds": 1.5}) for _ in range(4)]
    failing = api.submit("fail", {"message": "no"})
    flaky = api.submit("flaky", {"failures": 1})
    finished = [api.wait(j["id"]) for j in [*jobs, failing, flaky]]
    assert [j["status"] for j in finished] == ["COMPLETED"] * 4 + ["FAILED", "COMPLETED"]
    # Two children ran them: the counters below are sums over both processes' files.
    children = {e["worker"] for j in finished for e in j["timeline"] if e["event"] == "claimed"}
    assert len(children) == 2, children
    after = wait_for(lambda: (s := samples(endpoint)) and value(s, "batchlab_jobs_completed_total", type="sleep")
                     - value(before, "batchlab_jobs_completed_total", type="sleep") == 4 and s, what="4 sleep jobs counted")
    assert value(after, "batchlab_jobs_failed_total", type="fail", code="permanent_error") \
        - value(before, "batchlab_jobs_failed_total", type="fail", code="permanent_error") == 1
    assert value(after, "batchlab_jobs_retried_total", type="flaky", by="backoff") \
        - value(before, "batchlab_jobs_retried_total", type="flaky", by="backoff") == 1
    assert value(after, "batchlab_job_run_seconds_count", type="sleep", outcome="completed") \
        - value(before, "batchlab_job_run_seconds_count", type="sleep", outcome="completed") == 4
    assert value(after, "batchlab_job_run_seconds_bucket", type="sleep", outcome="completed", le="1.0") \
        == value(before, "batchlab_job_run_seconds_bucket", type="sleep", outcome="completed", le="1.0")  # each slept 1.5 s
    assert value(after, "batchlab_job_queue_wait_seconds_count", type="sleep") \
        - value(before, "batchlab_job_queue_wait_seconds_count", type="sleep") == 4
    assert 0 <= value(after, "batchlab_worker_seconds_since_receive") < 60
    assert value(after, "batchlab_worker_jobs_running") == 0


def test_web_metrics_count_submissions_and_read_the_store_and_queues(stack, api, staff_api):
    endpoint = f"{stack.web_url}/metrics"
    before = samples(endpoint)
    # Several requests: gunicorn's two processes both serve some; the counter is their sum.
    for _ in range(6):
        api.submit("echo", {"x": 1})
    job = api.submit("sleep", {"seconds": 30})
    api.wait(job["id"], statuses=("PROCESSING",))
    assert api.post(f"/jobs/{job['id']}/cancel").status_code in (200, 202)
    assert api.wait(job["id"])["status"] == "CANCELED"
    assert api.post(f"/jobs/{job['id']}/retry").status_code == 202
    # The retried job may be claimed between the cancel's read and its write: a 409 job_state_conflict
    # ("changed meanwhile; try again", seen on a fresh-clone run), which a client sends again.
    for _ in range(5):
        canceled = api.post(f"/jobs/{job['id']}/cancel")
        if canceled.status_code != 409 or canceled.json().get("code") != "job_state_conflict":
            break
        time.sleep(0.2)
    assert canceled.status_code in (200, 202), canceled.text
    after = samples(endpoint)
    assert value(after, "batchlab_jobs_submitted_total", type="echo") - value(before, "batchlab_jobs_submitted_total", type="echo") == 6
    assert value(after, "batchlab_jobs_retried_total", type="sleep", by="user") \
        - value(before, "batchlab_jobs_retried_total", type="sleep", by="user") == 1
    assert value(after, "batchlab_backend_up", backend="dynamodb") == 1 and value(after, "batchlab_backend_up", backend="sqs") == 1
    assert ("batchlab_jobs", frozenset({"status": "QUEUED"}.items())) in after
    assert ("batchlab_jobs", frozenset({"status": "COMPLETED"}.items())) not in after  # final statuses: counters only
    assert value(after, "batchlab_workers", state="alive") >= 1
    for queue in ("queue", "dead_letter"):
        for state in ("visible", "in_flight", "delayed"):
            assert (("batchlab_queue_messages", frozenset({"queue": queue, "state": state}.items()))) in after
        assert value(after, "batchlab_queue_oldest_age_seconds", queue=queue) >= 0
    api.wait(job["id"])


def test_item_jobs_count_chunks_and_items_by_outcome(stack, api):
    port = stack.worker_metrics_ports["worker1"]
    wait_for_port("127.0.0.1", port, timeout=60, proc=stack.processes["worker1"], name="worker metrics")
    endpoint = f"http://127.0.0.1:{port}/metrics"
    before = samples(endpoint)
    response = api.post("/jobs", json={"name": "counted items", "type": "checksum", "items": [f"i{n}" for n in range(20)],
                                       "chunk_size": 5})
    assert response.status_code == 201, response.text
    assert api.wait(response.json()["id"], timeout=60)["items"]["succeeded"] == 20

    def delta(name, **labels):
        return value(samples(endpoint), name, **labels) - value(before, name, **labels)

    wait_for(lambda: delta("batchlab_chunks_total", type="checksum", outcome="done") == 4, what="4 chunks counted")
    assert delta("batchlab_items_total", type="checksum", outcome="succeeded") == 20
    assert delta("batchlab_items_total", type="checksum", outcome="failed") == 0
