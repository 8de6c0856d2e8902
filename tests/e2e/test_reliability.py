"""Reliability on real processes: killed workers, duplicate deliveries, a queue outage,
poison messages, cancel and retry, graceful shutdown, idempotent submission.

One stack for the module with short timeouts so that redelivery happens within
seconds: the visibility timeout is 8 s, a claim's lease 4 s (renewed every
~1.3 s by the heartbeat), a message goes to the dead-letter queue after 2
receives. A message given back by Celery (a killed prefork child, a cold
shutdown) is hidden for kombu's long-poll time, 20 s, before it comes back.
Each test starts with two live workers. The poison job runs on a second stack
started first, so that its redeliveries overlap the other tests.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from devstack.launcher import ROOT
from tests.e2e.conftest import Api
from tests.e2e.helpers import (
    alive,
    child_pids,
    kill_pids,
    live_workers,
    publish_duplicate,
    run_events,
    sqs,
    start_time,
    wait_until,
    worker_logs,
    worker_of,
)

ENV = {
    "BATCHLAB_VISIBILITY_TIMEOUT": 8,
    "BATCHLAB_MAX_JOB_SECONDS": 6,
    "BATCHLAB_LEASE_SECONDS": 4,
    "BATCHLAB_MAX_RECEIVE_COUNT": 2,
    "BATCHLAB_MAX_ATTEMPTS": 3,
    "BATCHLAB_STALE_QUEUED_SECONDS": 2,
    "BATCHLAB_SHUTDOWN_GRACE_SECONDS": 3,
    "BATCHLAB_MAX_RESULT_BYTES": 2048,
}


@pytest.fixture(scope="module")
def stack(make_stack):
    stack = make_stack(workers=2, **ENV)
    wait_until(lambda: worker_logs(stack).count(" ready.") >= 2, timeout=60, what="both workers ready")
    return stack


@pytest.fixture(scope="module")
def strays():
    """Prefork children a test killed or orphaned, as (pid, start time): any still alive is killed at the end."""
    processes: list[tuple[int, int]] = []
    yield processes
    kill_pids(processes)


def remember(strays, pids) -> None:
    strays.extend((pid, start_time(pid)) for pid in pids if start_time(pid) is not None)


@pytest.fixture(autouse=True)
def two_workers(stack, strays):
    """Every test starts with two live workers, each connected to SQS and consuming."""
    for _ in range(2 - len(live_workers(stack))):
        start_worker_ready(stack)
    assert len(live_workers(stack)) == 2, live_workers(stack)


def start_worker_ready(stack):
    """Start a worker and wait for Celery's "ready" line in its log (its log may hold an earlier run's)."""
    before = worker_logs(stack).count(" ready.")
    proc = stack.start_worker()
    wait_until(lambda: worker_logs(stack).count(" ready.") > before or proc.poll() is not None,
               timeout=60, what="new worker ready")
    assert proc.poll() is None, worker_logs(stack)[-2000:]
    return proc


def started_pid(stack, job_id: str, *, timeout: float = 30) -> int:
    """The pid of the process that last started the job's handler, once it has."""
    starts = wait_until(lambda: run_events(stack, job_id, "start"), timeout=timeout, what=f"job {job_id} started")
    return starts[-1]


# --- Workers killed while they run a job ----------------------------------------------


def test_kill_9_of_the_child_running_a_job_runs_it_again_and_completes_it_once(api, stack):
    """The OOM-killer case: the prefork child dies, its parent survives.

    Celery rejects the message with requeue (task_reject_on_worker_lost), SQS
    delivers it again, and the new claim takes over the expired lease.
    """
    job = api.submit("countrun", {"seconds": 4})
    child = started_pid(stack, job["id"])
    parent = worker_of(stack, child)
    os.kill(child, signal.SIGKILL)

    done = api.wait(job["id"], timeout=60)
    assert done["status"] == "COMPLETED", done
    starts, finishes = run_events(stack, job["id"], "start"), run_events(stack, job["id"], "finish")
    assert len(starts) == 2 and starts[0] == child
    assert len(finishes) == 1 and finishes[0] != child
    assert done["attempts"] == 2
    assert [e["event"] for e in done["timeline"]].count("claimed") == 2
    # The worker whose child was killed is still up (prefork started a new child).
    assert stack.processes[parent].poll() is None


def test_kill_9_of_a_whole_worker_hands_its_job_to_the_other_worker_once(api, stack, strays):
    """The machine-died case: parent and child killed at once, nothing acknowledges or requeues.

    The message comes back after the visibility timeout; the other worker claims
    the job because the dead worker's lease has expired.
    """
    job = api.submit("countrun", {"seconds": 4})
    child = started_pid(stack, job["id"])
    name = worker_of(stack, child)
    children = child_pids(stack.processes[name].pid)
    remember(strays, children)
    stack.kill_process(name)  # SIGKILL to the worker's process group: parent and prefork child
    wait_until(lambda: not any(alive(p) for p in children), timeout=10, what="killed worker's children gone")

    done = api.wait(job["id"], timeout=60)
    assert done["status"] == "COMPLETED", done
    starts, finishes = run_events(stack, job["id"], "start"), run_events(stack, job["id"], "finish")
    assert len(starts) == 2 and len(finishes) == 1
    assert finishes[0] != child and finishes[0] in starts[1:]
    assert done["attempts"] == 2
    survivor = [e["worker"] for e in done["timeline"] if e["event"] == "completed"][0]
    assert survivor.endswith(f":{finishes[0]}")


def test_recovery_requeues_an_expired_lease_once_with_two_recovery_passes_at_once(api, stack, strays):
    """The worker died and its message is gone too: only the recovery pass can bring the job back.

    Two passes run at the same moment (as on two machines); the conditional
    write lets exactly one of them requeue and republish the job.
    """
    job = api.submit("countrun", {"seconds": 4})
    child = started_pid(stack, job["id"])
    name = worker_of(stack, child)
    remember(strays, child_pids(stack.processes[name].pid))
    stack.kill_process(name)
    client = sqs(stack)
    client.purge_queue(QueueUrl=client.get_queue_url(QueueName="batchlab-jobs")["QueueUrl"])  # the message is lost
    time.sleep(int(ENV["BATCHLAB_LEASE_SECONDS"]) + 1)  # no heartbeat any more: let the lease run out
    assert api.get(f"/jobs/{job['id']}").json()["status"] == "PROCESSING"

    passes = [subprocess.Popen([sys.executable, "manage.py", "batchlab_recover"], cwd=ROOT, env=stack.env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    reports = []
    for proc in passes:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["requeued"].count(job["id"]) for r in reports) == 1, reports

    done = api.wait(job["id"], timeout=60)
    assert done["status"] == "COMPLETED", done
    assert [e["event"] for e in done["timeline"]].count("lease_expired") == 1
    assert len(run_events(stack, job["id"], "finish")) == 1
    assert done["attempts"] == 2


# --- Duplicate deliveries -------------------------------------------------------------------


def test_duplicate_messages_racing_on_two_workers_run_the_handler_once(api, stack):
    """Three messages for one job: one worker runs it, the other finds it busy, then finished."""
    job = api.submit("countrun", {"seconds": 3})
    publish_duplicate(stack, job["id"])
    publish_duplicate(stack, job["id"])
    done = api.wait(job["id"], timeout=30)
    assert done["status"] == "COMPLETED"

    # While it ran, the other worker received a copy and left it (busy); after the
    # visibility timeout both copies come back and are dropped (final).
    wait_until(lambda: sum(1 for line in worker_logs(stack).splitlines()
                           if f"job {job['id']} not claimed" in line and line.endswith("final")) >= 2,
               timeout=45, what="both duplicates dropped as final")
    lines = [line for line in worker_logs(stack).splitlines() if f"job {job['id']} not claimed" in line]
    assert any(line.endswith("busy") for line in lines), lines
    assert len(run_events(stack, job["id"], "start")) == 1
    assert len(run_events(stack, job["id"], "finish")) == 1
    assert api.get(f"/jobs/{job['id']}").json()["attempts"] == 1


# --- The queue goes away: dual write, 503, recovery ------------------------------------


def test_queue_outage_answers_503_then_recovery_publishes_the_job_and_it_runs_once(api, staff_api, stack):
    workers = live_workers(stack)
    stack.stop_process("moto-sqs")
    try:
        response = api.post("/jobs", json={"name": "during outage", "type": "countrun", "payload": {"seconds": 0.2}})
        assert response.status_code == 503, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["code"] == "queue_unavailable" and problem["status"] == 503
        job_id = problem["job_id"]
        # Stored, not lost: it waits QUEUED for the recovery pass.
        assert api.get(f"/jobs/{job_id}").json()["status"] == "QUEUED"
        # The workers' long polls fail meanwhile (one a second each): they must
        # keep polling, not exit.
        time.sleep(4)
        assert live_workers(stack) == workers, worker_logs(stack)[-3000:]
    finally:
        stack.start_moto("sqs")
    # moto keeps queues in memory: the restarted server has none until bootstrap.
    stack.manage("batchlab_bootstrap")
    time.sleep(int(ENV["BATCHLAB_STALE_QUEUED_SECONDS"]) + 1)
    report = json.loads(stack.manage("batchlab_recover").strip().splitlines()[-1])
    assert job_id in report["republished"], report

    done = api.wait(job_id, timeout=60)
    assert done["status"] == "COMPLETED", done
    assert [e["event"] for e in done["timeline"]] == ["submitted", "republished", "claimed", "completed"]
    assert len(run_events(stack, job_id, "finish")) == 1
    # The same worker processes are still consuming: a job submitted now runs too.
    after = api.wait(api.submit("countrun", {"seconds": 0})["id"], timeout=60)
    assert after["status"] == "COMPLETED"
    assert live_workers(stack) == workers
    assert staff_api.get("/jobs", params={"status": "QUEUED"}).json()["results"] == []


# --- Cancel and retry -----------------------------------------------------------------------


def test_cancel_of_a_queued_job_is_immediate_and_its_message_is_skipped(api, stack):
    # Long enough that no blocker finishes before the victim is canceled, even on a loaded machine,
    # and within BATCHLAB_MAX_JOB_SECONDS (6 s here): an 8 s blocker hit the soft time limit and FAILED.
    blockers = [api.submit("countrun", {"seconds": 5}) for _ in live_workers(stack)]
    wait_until(lambda: all(api.get(f"/jobs/{b['id']}").json()["status"] == "PROCESSING" for b in blockers),
               timeout=30, what="every worker busy")
    victim = api.submit("countrun", {"seconds": 0})
    response = api.post(f"/jobs/{victim['id']}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "CANCELED"
    for b in blockers:
        assert api.wait(b["id"], timeout=30)["status"] == "COMPLETED"
    wait_until(lambda: f"job {victim['id']} not claimed" in worker_logs(stack), timeout=30, what="message skipped")
    job = api.get(f"/jobs/{victim['id']}").json()
    assert job["status"] == "CANCELED" and job["attempts"] == 0
    assert run_events(stack, victim["id"], "start") == []


def test_cancel_of_a_processing_job_stops_it_between_units_with_its_progress_kept(api):
    job = api.submit("sleep", {"seconds": 5})
    wait_until(lambda: api.get(f"/jobs/{job['id']}").json()["progress"]["done"] >= 1, timeout=30, what="first unit done")
    response = api.post(f"/jobs/{job['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["cancel_requested"] is True
    done = api.wait(job["id"], timeout=30)
    assert done["status"] == "CANCELED", done
    assert 1 <= done["progress"]["done"] < 5 and done["progress"]["total"] == 5
    assert done["result"] is None
    events = [e["event"] for e in done["timeline"]]
    assert events == ["submitted", "claimed", "cancel_requested", "canceled"]
    assert f"after {done['progress']['done']} of 5 units" in done["timeline"][-1]["message"]


def test_cancel_of_a_final_job_is_409_and_retry_of_a_failed_job_runs_it_again(api):
    completed = api.wait(api.submit("echo", {"x": 1})["id"])
    for action in ("cancel", "retry"):
        conflict = api.post(f"/jobs/{completed['id']}/{action}")
        assert conflict.status_code == 409, conflict.text
        assert conflict.headers["Content-Type"].startswith("application/problem+json")
        assert conflict.json()["code"] == "job_state_conflict"

    failed = api.wait(api.submit("flaky", {"failures": 3})["id"], timeout=60)
    assert failed["status"] == "FAILED" and failed["attempts"] == 3
    retried = api.post(f"/jobs/{failed['id']}/retry")
    assert retried.status_code == 202 and retried.json()["status"] == "QUEUED"
    assert retried.json()["id"] == failed["id"]
    done = api.wait(failed["id"], timeout=60)
    assert done["status"] == "COMPLETED", done
    assert done["result"] == {"succeeded_on_attempt": 4} and done["error"] is None
    events = [e["event"] for e in done["timeline"]]
    # The first run's history is still there, followed by the retry.
    assert events[: len(failed["timeline"])] == [e["event"] for e in failed["timeline"]]
    assert events[len(failed["timeline"]):] == ["retried", "claimed", "completed"]
    assert api.post(f"/jobs/{done['id']}/retry").status_code == 409


def test_retry_of_a_canceled_job_runs_it(api):
    job = api.submit("sleep", {"seconds": 4})
    wait_until(lambda: api.get(f"/jobs/{job['id']}").json()["status"] == "PROCESSING", timeout=30, what="running")
    api.post(f"/jobs/{job['id']}/cancel")
    assert api.wait(job["id"], timeout=30)["status"] == "CANCELED"
    assert api.post(f"/jobs/{job['id']}/cancel").status_code == 409
    assert api.post(f"/jobs/{job['id']}/retry").status_code == 202
    done = api.wait(job["id"], timeout=30)
    assert done["status"] == "COMPLETED" and done["cancel_requested"] is False


# --- A handler's bad output ----------------------------------------------------------------


def test_a_result_over_the_size_limit_fails_the_job_and_the_worker_carries_on(api):
    big = api.wait(api.submit("echo", {"blob": "x" * 4000})["id"])
    assert big["status"] == "FAILED"
    assert big["error"]["code"] == "result_too_large"
    assert "limit is 2048" in big["error"]["message"]
    assert api.wait(api.submit("echo", {"small": 1})["id"])["status"] == "COMPLETED"


# --- Graceful shutdown ---------------------------------------------------------------------


def test_sigterm_lets_the_running_job_finish_within_the_grace_period(api, stack):
    job = api.submit("countrun", {"seconds": 1})
    child = started_pid(stack, job["id"])
    name = worker_of(stack, child)
    proc = stack.processes[name]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=int(ENV["BATCHLAB_SHUTDOWN_GRACE_SECONDS"]) + 15) == 0
    stack.processes.pop(name)
    done = api.get(f"/jobs/{job['id']}").json()
    assert done["status"] == "COMPLETED", done
    assert run_events(stack, job["id"], "finish") == [child]


def test_sigterm_past_the_grace_period_leaves_the_job_to_another_worker_once(api, stack, strays):
    job = api.submit("countrun", {"seconds": 5})
    child = started_pid(stack, job["id"])
    name = worker_of(stack, child)
    proc = stack.processes[name]
    remember(strays, [child])
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=int(ENV["BATCHLAB_SHUTDOWN_GRACE_SECONDS"]) + 15)
    stack.processes.pop(name)
    wait_until(lambda: not alive(child), timeout=10, what="the stopped worker's child gone")
    done = api.wait(job["id"], timeout=60)
    assert done["status"] == "COMPLETED", done
    starts, finishes = run_events(stack, job["id"], "start"), run_events(stack, job["id"], "finish")
    assert len(starts) == 2 and len(finishes) == 1 and finishes[0] != child


# --- Idempotent submission -----------------------------------------------------------------


def test_concurrent_retries_with_one_idempotency_key_make_one_job(api, staff_api, stack):
    key = f"order-{uuid.uuid4()}"
    body = {"name": "idempotent", "type": "countrun", "payload": {"seconds": 0.5}}
    responses, barrier = [], threading.Barrier(16)

    def send():
        client = Api(api.base)
        barrier.wait()
        responses.append(client.post("/jobs", json=body, headers={"Idempotency-Key": key}))

    threads = [threading.Thread(target=send) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(responses) == 16
    assert sorted(r.status_code for r in responses) == [200] * 15 + [201], [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    job_id = ids.pop()
    # Later retries, however many, still answer with the same job.
    again = api.post("/jobs", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 200 and again.json()["id"] == job_id
    assert api.wait(job_id)["status"] == "COMPLETED"
    assert len(run_events(stack, job_id, "start")) == 1
    mine = [j for j in api.get("/jobs", params={"limit": 100}).json()["results"] if j["name"] == "idempotent"]
    assert [j["id"] for j in mine] == [job_id]

    other_body = api.post("/jobs", json={**body, "payload": {"seconds": 1}}, headers={"Idempotency-Key": key})
    assert other_body.status_code == 422
    assert other_body.headers["Content-Type"].startswith("application/problem+json")
    assert other_body.json()["code"] == "idempotency_key_reused"
    # Keys are per submitter: the same key from another user is another job.
    theirs = staff_api.post("/jobs", json=body, headers={"Idempotency-Key": key})
    assert theirs.status_code == 201 and theirs.json()["id"] != job_id


# --- Poison messages: the dead-letter queue --------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def poison(make_stack):
    """A stack of its own with a job that kills its worker's child, started before the first test.

    Each crash hides the message for 20 s before SQS delivers it again: the
    two redeliveries that take it to the dead-letter queue happen while the
    other tests run, and the last test looks at the outcome.
    """
    stack = make_stack(workers=1, **ENV)
    job = Api(stack.web_url, "demo").submit("crash", {"crashes": 2})
    return stack, job["id"]


def test_a_job_that_kills_its_worker_lands_in_the_dead_letter_queue_fails_and_can_be_redriven(poison):
    stack, job_id = poison
    api, staff_api = Api(stack.web_url, "demo"), Api(stack.web_url, "admin")

    def dead_lettered():
        body = staff_api.get("/dead-letters").json()
        return [m for m in body["results"] if m["job_id"] == job_id]

    # Two receives, two dead children; SQS then moves the message to the DLQ.
    letters = wait_until(dead_lettered, timeout=90, interval=1, what="message in the dead-letter queue")
    assert len(run_events(stack, job_id, "crash")) == 2
    assert letters[0]["receive_count"] >= 1
    assert api.get(f"/jobs/{job_id}").json()["status"] == "PROCESSING"  # until a recovery pass
    listed = json.loads(stack.manage("batchlab_dlq", "list"))
    assert job_id in [m["job_id"] for m in listed["messages"]]
    assert api.get("/dead-letters").status_code == 403  # staff only

    report = json.loads(stack.manage("batchlab_recover").strip().splitlines()[-1])
    assert job_id in report["dead_lettered"], report
    failed = api.get(f"/jobs/{job_id}").json()
    assert failed["status"] == "FAILED"
    assert failed["error"]["code"] == "dead_lettered"
    assert "dead-letter queue" in failed["error"]["message"]

    redrive = staff_api.post("/dead-letters/redrive")
    assert redrive.status_code == 200 and job_id in redrive.json()["redriven"], redrive.text
    done = api.wait(job_id, timeout=60)
    assert done["status"] == "COMPLETED", done
    assert done["result"] == {"survived_after": 2}
    events = [e["event"] for e in done["timeline"]]
    assert events[0] == "submitted" and "failed" in events and "redriven" in events and events[-1] == "completed"
    assert dead_lettered() == []
    # The worker is still up: only its prefork children died.
    assert len(live_workers(stack)) == 1
