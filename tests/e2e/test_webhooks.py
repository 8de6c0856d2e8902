"""Webhooks on the real stack (moto servers, celery workers with their delivery workers, gunicorn, the scheduler), to a receiver on 127.0.0.1."""

import os
import signal
import time

import pytest
from standardwebhooks.webhooks import Webhook

from devstack.launcher import free_port
from tests.e2e.conftest import Api, dump_logs
from tests.webhooks.receiver import Receiver

HOOK_ENV = {
    "BATCHLAB_WEBHOOK_RETRY_BASE_SECONDS": "0.5", "BATCHLAB_WEBHOOK_RETRY_MAX_SECONDS": "2",
    "BATCHLAB_WEBHOOK_TIMEOUT_SECONDS": "5", "BATCHLAB_WEBHOOK_LEASE_SECONDS": "8", "BATCHLAB_WEBHOOK_STALE_SECONDS": "3",
    "BATCHLAB_SCHEDULER_TICK_SECONDS": "0.5",
}


@pytest.fixture(scope="module")
def hook_stack(make_stack):
    return make_stack(schedulers=1, **HOOK_ENV)


@pytest.fixture(scope="module")
def demo(hook_stack) -> Api:
    return Api(hook_stack.web_url, "demo")


def until(condition, *, timeout: float = 60, what: str = "the condition", stack=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} not seen within {timeout} s" + ("\n" + dump_logs(stack) if stack else ""))


def endpoint(api: Api, url: str, events=("job.completed",)) -> dict:
    response = api.post("/webhooks", json={"url": url, "events": list(events)})
    assert response.status_code == 201, response.text
    return response.json()


def deliveries(api: Api, hook_id: str) -> list[dict]:
    return api.get(f"/webhooks/{hook_id}/deliveries").json()["results"]


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def test_a_jobs_completion_reaches_the_receiver_signed(hook_stack, demo, receiver):
    hook = endpoint(demo, receiver.url)
    job = demo.submit("echo", {"say": "hi"})
    assert demo.wait(job["id"])["status"] == "COMPLETED"
    [got] = receiver.wait_for(1, timeout=60)
    body = Webhook(hook["secret"]).verify(got.body, got.headers)
    assert body["type"] == "job.completed" and body["data"]["id"] == job["id"] and body["data"]["result"] == {"say": "hi"}
    until(lambda: [d["status"] for d in deliveries(demo, hook["id"])] == ["DELIVERED"], what="DELIVERED")
    import requests

    port = hook_stack.worker_metrics_ports["worker1"]  # the worker's endpoint sums its delivery worker's samples too
    def delivered_metrics():
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        return text if 'batchlab_webhook_deliveries_total{outcome="delivered"}' in text else None

    worker_metrics = until(delivered_metrics, what="delivery metrics")
    assert "batchlab_webhook_try_seconds_bucket" in worker_metrics and hook["secret"] not in worker_metrics
    web_metrics = requests.get(hook_stack.web_url + "/metrics", timeout=30).text
    assert 'batchlab_webhook_backlog{what="unfinished_deliveries"}' in web_metrics and hook["secret"] not in web_metrics
    demo.session.delete(demo.url(f"/webhooks/{hook['id']}"))


def test_500_twice_then_200_three_attempts_one_webhook_id_delivered_once(hook_stack, demo, receiver):
    receiver.answers = [500, 500, 200]
    hook = endpoint(demo, receiver.url)
    job = demo.submit("echo", {})
    demo.wait(job["id"])
    until(lambda: [d["status"] for d in deliveries(demo, hook["id"])] == ["DELIVERED"], what="DELIVERED", stack=hook_stack)
    [delivery] = deliveries(demo, hook["id"])
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 200]
    assert len(receiver.requests) == 3 and len({r.headers["webhook-id"] for r in receiver.requests}) == 1
    demo.session.delete(demo.url(f"/webhooks/{hook['id']}"))


def test_a_receiver_down_never_holds_the_job_and_gets_it_when_back(hook_stack, demo):
    port = free_port()
    hook = endpoint(demo, f"http://127.0.0.1:{port}/hook")
    job = demo.submit("echo", {})
    assert demo.wait(job["id"], timeout=30)["status"] == "COMPLETED"
    pending = until(lambda: [d for d in deliveries(demo, hook["id"]) if d["status"] == "PENDING" and d["attempts"] >= 2],
                    what="a pending delivery tried twice")
    assert pending[0]["attempt_log"][0]["status_code"] is None and "refused" in pending[0]["attempt_log"][0]["error"]
    receiver = Receiver().start(port=port)
    try:
        [got] = receiver.wait_for(1, timeout=30)
        Webhook(hook["secret"]).verify(got.body, got.headers)
        until(lambda: deliveries(demo, hook["id"])[0]["status"] == "DELIVERED", what="DELIVERED")
    finally:
        receiver.stop()
        demo.session.delete(demo.url(f"/webhooks/{hook['id']}"))


def test_kill_9_of_the_delivery_worker_mid_send_loses_no_event(hook_stack, demo, receiver):
    receiver.delay = 2.0  # every send is in flight for 2 s: time to kill its worker
    hook = endpoint(demo, receiver.url, events=["job.completed", "job.failed"])
    jobs = [demo.submit("echo", {"n": i}) for i in range(5)] + [demo.submit("fail", {"message": "x"})]
    receiver.wait_for(1, timeout=60)
    pid = hook_stack.delivery_worker_pid("worker1")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    until(lambda: hook_stack.delivery_worker_pid("worker1") not in (None, pid), what="the delivery worker started again")
    finals = {j["id"]: demo.wait(j["id"])["status"] for j in jobs}
    want = {job_id: {"COMPLETED": "job.completed", "FAILED": "job.failed"}[s] for job_id, s in finals.items()}

    def every_event_delivered():
        got = {(d["job_id"], d["event_type"]) for d in deliveries(demo, hook["id"]) if d["status"] == "DELIVERED"}
        return all((job_id, event) in got for job_id, event in want.items())

    until(every_event_delivered, timeout=90, what="every final job's event delivered", stack=hook_stack)
    seen = {}
    for r in receiver.requests:  # at least once: the one cut short by the kill came again, with its webhook-id
        data = Webhook(hook["secret"]).verify(r.body, r.headers)["data"]
        seen.setdefault(data["id"], set()).add(r.headers["webhook-id"])
    assert set(seen) == set(want) and all(len(ids) == 1 for ids in seen.values())
    demo.session.delete(demo.url(f"/webhooks/{hook['id']}"))


def test_a_slow_receiver_does_not_hold_the_jobs(hook_stack, demo, receiver):
    receiver.delay = 4.0
    hook = endpoint(demo, receiver.url)
    jobs = [demo.submit("echo", {"n": i}) for i in range(40)]
    for job in jobs:
        assert demo.wait(job["id"], timeout=60)["status"] == "COMPLETED"
    statuses = [d["status"] for d in deliveries(demo, hook["id"])]
    assert statuses and set(statuses) <= {"PENDING", "SENDING", "DELIVERED"}
    demo.session.delete(demo.url(f"/webhooks/{hook['id']}"))


def test_the_cli_creates_lists_pings_and_listens(hook_stack, demo):
    import json
    import subprocess
    import sys
    from pathlib import Path

    cli = Path(sys.executable).parent / "batchlab"
    env = dict(hook_stack.env(), BATCHLAB_URL=hook_stack.web_url, BATCHLAB_USER="demo", BATCHLAB_PASSWORD="demo")

    def run(*argv, timeout=60):
        done = subprocess.run([str(cli), *argv, "--json"], env=env, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stderr
        return done.stdout

    port = free_port()
    listener = subprocess.Popen([str(cli), "webhooks", "listen", "--port", str(port), "--count", "2", "--json"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        mine = until(lambda: [h for h in json.loads(run("webhooks", "list"))["results"] if h["url"] == f"http://127.0.0.1:{port}/"],
                     what="the listener's endpoint")
        run("webhooks", "test", mine[0]["id"])
        job = demo.submit("echo", {"via": "cli"})
        out, err = listener.communicate(timeout=60)
    finally:
        if listener.poll() is None:
            listener.kill()
    events = [json.loads(line) for line in out.splitlines()]
    assert {e["type"] for e in events} == {"ping", "job.completed"}, (out, err)
    assert next(e for e in events if e["type"] == "job.completed")["data"]["id"] == job["id"]
    assert not [h for h in json.loads(run("webhooks", "list"))["results"] if h["id"] == mine[0]["id"]]  # removed on exit
    receiver = Receiver().start()
    try:
        created = json.loads(run("webhooks", "create", receiver.url, "--events", "job.failed"))
        assert created["secret"].startswith("whsec_") and created["events"] == ["job.failed"]
        run("webhooks", "test", created["id"])
        [got] = receiver.wait_for(1)
        assert Webhook(created["secret"]).verify(got.body, got.headers)["type"] == "ping"
        until(lambda: [d["status"] for d in json.loads(run("webhooks", "deliveries", created["id"]))["results"]] == ["DELIVERED"],
              what="the ping DELIVERED")
        run("webhooks", "redeliver", created["id"], got.headers["webhook-id"])
        again = receiver.wait_for(2)[1]
        assert again.headers["webhook-id"] == got.headers["webhook-id"] and again.body == got.body
    finally:
        receiver.stop()
