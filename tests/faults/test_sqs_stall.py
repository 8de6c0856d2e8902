"""The SQS endpoint stalls for 60 s: every request is accepted and never answered, no reset.

A long poll stuck that way leaves a worker that looks alive and takes nothing.
The worker's receive watchdog (BATCHLAB_RECEIVE_WATCHDOG_SECONDS, here 30 s)
sees no successful receive while idle and stops the worker; the test plays the
supervisor and starts it again. Jobs submitted during the stall are stored (the
API answers 503 queue_unavailable with the job id) and queued by the recovery
pass once SQS answers again. Nothing is lost.
"""

import concurrent.futures
import time

import pytest
import requests

from tests.e2e.helpers import wait_until, worker_logs
from tests.faults.scenario import api_token, close_with_check, elapsed, submit_many

ENV = {"BATCHLAB_RECEIVE_WATCHDOG_SECONDS": 30, "BATCHLAB_STALE_QUEUED_SECONDS": 5, "BATCHLAB_SHUTDOWN_GRACE_SECONDS": 5}
STALL = 60


def supervise(stack, exits: list) -> None:
    for name, proc in list(stack.processes.items()):
        if name.startswith("worker") and proc.poll() is not None:
            exits.append((name, proc.returncode, round(time.monotonic(), 1)))
            stack.processes.pop(name)
            stack.restart_worker()


@pytest.mark.faults_full
def test_sqs_stall_of_60_s_the_watchdog_restarts_the_stuck_workers_and_nothing_is_lost(fault_stack):
    stack = fault_stack(workers=2, **ENV)
    wait_until(lambda: worker_logs(stack).count(" ready.") >= 2, timeout=90, what="both workers ready")
    before, answers = submit_many(stack, 5)
    assert len(before) == 5, answers
    wait_until(lambda: "watchdog" in worker_logs(stack), timeout=30, what="watchdog started")

    headers = {"Authorization": f"Token {api_token(stack)}"}

    def submit_during_stall(index: int):
        try:
            response = requests.post(f"{stack.web_url}/jobs", json={"name": f"stall {index}", "type": "effect", "payload": {}},
                                      headers=headers, timeout=150)
        except requests.RequestException as exc:
            return exc.__class__.__name__, None
        body = response.json()
        return response.status_code, body.get("id") or body.get("job_id")

    stalled_at = time.monotonic()
    stack.sqs_proxy.stall_all(STALL)
    exits: list = []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(submit_during_stall, i) for i in range(4)]
        while time.monotonic() - stalled_at < STALL:
            supervise(stack, exits)
            time.sleep(1)
        during = [f.result() for f in futures]
    stall_end = time.monotonic()
    stored = [job_id for _, job_id in during if job_id]
    # Supervise a little longer: a worker may notice only now.
    deadline = time.monotonic() + 40
    ids = before + stored
    while time.monotonic() < deadline:
        supervise(stack, exits)
        if not [j for j in ids if j]:
            break
        time.sleep(1)
        from tests.faults.checker import history_jobs

        jobs = history_jobs(stack)
        if all(jobs.get(j, {}).get("status") == "COMPLETED" for j in ids):
            break
    recovered = elapsed(stall_end)
    verdict = close_with_check(stack, ids, "SQS stalls 60 s (no answer, no reset)", timeout=120, extra={
        "POST /jobs during the stall": sorted(str(code) for code, _ in during),
        "workers stopped by the watchdog and restarted": len(exits),
        "seconds from the stall's end to every job COMPLETED": recovered,
    })
    assert verdict.ok and verdict.by_status == {"COMPLETED": len(ids)}, verdict.table("stall")
    assert len(stored) >= 1, during
    assert exits and "no successful SQS receive" in worker_logs(stack), exits
