"""Schedules under the seeded fault mix with two schedulers, one of them killed (-9) and restarted again and again.

Two schedules fire every few seconds: one of plain `effect` jobs (overlap
allow: every due time makes a job), one of 10 `effect` items (overlap skip: a
due time meeting a run still going is skipped). Both schedulers, the workers
and the API reach DynamoDB and SQS through the fault proxies (the mix of
tests/faults/chaos.py, DynamoDB's conflicts on the schedulers' transactions
included) while a chaos thread kills a random scheduler's process group every
few seconds and starts it again. Then the faults stop, the schedules are
paused, and the checkers judge: each due time acted on once, none missing in
the window (a due time passed while no scheduler could act, its store requests
failing or its tick late on a loaded machine, is caught up by the next firing and
counted as missed, by design; the table shows how many), each run's job made once and final, each plain run's effect once,
each item run's items recorded once.
"""

import time
from datetime import datetime

import requests

from tests.faults.chaos import chaos
from tests.faults.checker import history_check
from tests.faults.checker_items import item_history_check
from tests.faults.checker_schedules import schedule_history_check
from tests.faults.scenario import api_token, elapsed

ENV = {"BATCHLAB_SCHEDULE_MIN_INTERVAL_SECONDS": 1, "BATCHLAB_SCHEDULE_PENDING_GRACE_SECONDS": 3,
       "BATCHLAB_VISIBILITY_TIMEOUT": 10, "BATCHLAB_LEASE_SECONDS": 4, "BATCHLAB_STALE_QUEUED_SECONDS": 10,
       "BATCHLAB_WORKER_CONCURRENCY": 2}
FAULT_SECONDS = 40


def call(stack, method: str, path: str, *, attempts: int = 10, **kwargs) -> dict:
    """One API call, tried again on a 5xx or a 409 (a scheduler wrote the schedule meanwhile) as a client would."""
    headers = {"Authorization": f"Token {api_token(stack)}"}
    for attempt in range(attempts):
        try:
            response = requests.request(method, f"{stack.web_url}{path}", headers=headers, timeout=60, **kwargs)
        except requests.RequestException:
            response = None
        if response is not None and response.status_code < 300:
            return response.json()
        if response is not None and response.status_code < 500 and response.status_code != 409:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        time.sleep(0.5 * (attempt + 1))
    raise AssertionError(f"{method} {path}: no success in {attempts} tries")


def epoch(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def settled(stack, first_due: dict):
    """The schedule verdict once no firing is pending and every run's job is final (None before)."""
    verdict = schedule_history_check(stack, first_due)
    return None if verdict.pending or verdict.unfinished_jobs else verdict


def test_schedules_under_faults_with_two_schedulers_one_killed(fault_stack, strays):
    stack = fault_stack(workers=2, schedulers=2, **ENV)
    plain = call(stack, "POST", "/schedules", json={"name": "plain every 2 s", "type": "effect", "payload": {"seconds": 0.1},
                                                    "interval_seconds": 2, "overlap": "allow"})
    items = call(stack, "POST", "/schedules", json={"name": "items every 3 s", "type": "effect", "interval_seconds": 3,
                                                    "items": [{"v": i} for i in range(10)], "chunk_size": 5})
    first_due = {s["id"]: epoch(s["next_run_at"]) for s in (plain, items)}
    started = time.monotonic()
    with chaos(stack, strays, every=(5, 9), kind="scheduler") as record:
        time.sleep(FAULT_SECONDS)  # the window: schedules fire under faults while schedulers die
    faults_seconds = elapsed(started)
    injected = stack.injected()
    stack.clear_faults()
    for schedule_id in first_due:
        call(stack, "POST", f"/schedules/{schedule_id}/pause")
    deadline = time.monotonic() + 180
    while (verdict := settled(stack, first_due)) is None and time.monotonic() < deadline:
        time.sleep(2)
    verdict = verdict or schedule_history_check(stack, first_due)
    verdict.extra.update({"schedulers killed (-9) and restarted": len(record.kills), "seconds under faults": faults_seconds,
                          "schedulers that exited by themselves": len(record.exits),
                          **{f"injected: {k}": v for k, v in injected.items()}})
    title = "schedules under faults, 2 schedulers, kill -9 of one"
    print("\n" + verdict.table(title), flush=True)
    plain_jobs = [j for j, kind in verdict.run_jobs.items() if kind == "plain"]
    item_jobs = [j for j, kind in verdict.run_jobs.items() if kind == "item"]
    jobs_verdict = history_check(stack, plain_jobs)
    items_verdict = item_history_check(stack, item_jobs)
    print(jobs_verdict.table("the plain schedule's runs"), items_verdict.table("the item schedule's runs"), sep="\n", flush=True)
    assert verdict.ok, verdict.table(title)
    assert not record.exits, f"schedulers exited by themselves: {record.exits}"
    assert record.kills and plain_jobs and item_jobs, verdict.table(title)
    assert jobs_verdict.ok and jobs_verdict.effects == len(plain_jobs), jobs_verdict.table("the plain schedule's runs")
    assert items_verdict.ok, items_verdict.table("the item schedule's runs")
