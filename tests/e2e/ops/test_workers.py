"""Worker heartbeats on real processes: GET /workers lists live workers and what they run, marks a frozen one
stale (SIGSTOP: hung or dead, its heartbeat stops), forgets one that stopped; the CLI shows the same."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.ops.conftest import wait_for


def workers(staff_api) -> dict:
    response = staff_api.get("/workers")
    assert response.status_code == 200, response.text
    return response.json()


def by_pid(listing: dict, pid: int) -> dict | None:
    return next((w for w in listing["results"] if w["pid"] == pid), None)


def test_a_worker_reports_what_it_runs_and_what_it_did(stack, api, staff_api):
    pid = stack.processes["worker1"].pid
    job = api.submit("sleep", {"seconds": 3})
    running = wait_for(lambda: (w := by_pid(workers(staff_api), pid)) and job["id"] in w["running"] and w,
                       what="the job listed as running")
    assert running["alive"] is True and running["name"].startswith("worker1@")
    assert running["concurrency"] == 2 and running["version"] and running["host"]
    assert running["last_receive_at"] is not None and running["last_job_at"] is not None
    api.wait(job["id"])
    done = wait_for(lambda: (w := by_pid(workers(staff_api), pid)) and w["jobs_done"] >= 1 and not w["running"] and w,
                    what="the job counted as done")
    assert done["seconds_since_seen"] < 5


def test_workers_is_for_staff_only(api):
    response = api.get("/workers")
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("application/problem+json")


def test_a_frozen_worker_turns_stale_recovers_and_a_stopped_one_disappears(stack, staff_api):
    name = "worker2"
    pid = stack.start_worker(2).pid
    wait_for(lambda: (w := by_pid(workers(staff_api), pid)) and w["alive"], what="the second worker alive")
    first = stack.processes["worker1"].pid

    def frozen_stale_first_alive():
        listing = workers(staff_api)
        frozen, other = by_pid(listing, pid), by_pid(listing, first)
        return frozen and not frozen["alive"] and other and other["alive"] and (listing, frozen)

    os.kill(pid, signal.SIGSTOP)  # hung: its heartbeat thread stops with it, no goodbye
    try:
        # One listing with both: the frozen worker stale while the other still beats (on a loaded
        # machine one beat of the other may come late, which the next listing shows caught up).
        listing, stale = wait_for(frozen_stale_first_alive, timeout=20, what="the frozen worker stale, the other alive")
    finally:
        os.kill(pid, signal.SIGCONT)
    # Stale means more than two intervals since its beat; the listing shows the age rounded to 0.1 s,
    # so 2.04 s (stale) reads 2.0 (a fresh-clone run failed on `2.0 > 2.0`).
    assert stale["seconds_since_seen"] >= 2 * stale["heartbeat_seconds"]
    assert listing["stale"] >= 1 and listing["alive"] >= 1
    wait_for(lambda: (w := by_pid(workers(staff_api), pid)) and w["alive"], what="the worker alive again")
    stack.stop_process(name)  # SIGTERM: warm shutdown, the worker removes its record
    wait_for(lambda: by_pid(workers(staff_api), pid) is None, timeout=20, what="the stopped worker gone")


def test_the_cli_lists_the_workers(stack):
    token = stack.manage("batchlab_token", "admin").strip()
    cli = [str(Path(sys.executable).parent / "batchlab"), "--base-url", stack.web_url, "--token", token, "workers"]
    listing = json.loads(subprocess.run([*cli, "--json"], capture_output=True, text=True, timeout=60, check=True).stdout)
    assert by_pid(listing, stack.processes["worker1"].pid)["alive"] is True
    table = subprocess.run(cli, capture_output=True, text=True, timeout=60, check=True).stdout
    assert "alive" in table and str(stack.processes["worker1"].pid) in table
