"""`make run` from a script: no terminal, no stdin; it starts everything and SIGTERM stops everything."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import requests

from devstack.launcher import free_port

ROOT = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> set[int]:
    found, frontier = set(), [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            for child in task.read_text().split():
                if int(child) not in found:
                    found.add(int(child))
                    frontier.append(int(child))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def test_make_run_starts_the_stack_and_sigterm_stops_every_process(tmp_path):
    ports = {"BATCHLAB_WEB_PORT": free_port(), "BATCHLAB_SQS_PORT": free_port(), "BATCHLAB_DYNAMODB_PORT": free_port()}
    env = dict(os.environ, **{k: str(v) for k, v in ports.items()}, BATCHLAB_SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    log = open(tmp_path / "make-run.log", "w+")
    make = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and "BatchLab is up" not in (tmp_path / "make-run.log").read_text():
            assert make.poll() is None, (tmp_path / "make-run.log").read_text()
            time.sleep(0.5)
        output = (tmp_path / "make-run.log").read_text()
        assert "BatchLab is up" in output, output
        assert "user demo/demo" in output and "staff admin/admin" in output
        assert re.search(r"worker\s+pid \d+", output)
        base = f"http://127.0.0.1:{ports['BATCHLAB_WEB_PORT']}"
        job = requests.post(f"{base}/jobs", json={"name": "hi", "type": "echo", "payload": {"x": 1}}, auth=("demo", "demo"), timeout=30).json()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and job["status"] != "COMPLETED":
            time.sleep(0.2)
            job = requests.get(f"{base}/jobs/{job['id']}", auth=("demo", "demo"), timeout=30).json()
        assert job["status"] == "COMPLETED" and job["result"] == {"x": 1}
        # DJANGO_DEBUG is on under `make run`: an unknown path is still a 404 problem (under the API's paths)
        # or a plain page, never Django's debug page that lists every URL pattern.
        missing = requests.get(f"{base}/jobs/{job['id']}/nothing", auth=("demo", "demo"), timeout=30)
        assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("application/problem+json"), missing.text[:300]
        assert missing.json()["code"] == "not_found"
        page = requests.get(f"{base}/no/such/page", headers={"Accept": "text/html"}, timeout=30)
        assert page.status_code == 404 and "Page not found" in page.text and "URLconf" not in page.text, page.text[:300]
        # One long job does not hold the short ones behind it (the embedded worker has several slots).
        auth = ("demo", "demo")
        long = requests.post(f"{base}/jobs", json={"name": "long", "type": "sleep", "payload": {"seconds": 8}}, auth=auth, timeout=30).json()
        short = [requests.post(f"{base}/jobs", json={"name": f"s{i}", "type": "echo", "payload": {}}, auth=auth, timeout=30).json()["id"] for i in range(3)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = requests.get(f"{base}/jobs", params={"ids": ",".join(short + [long["id"]])}, auth=auth, timeout=30).json()["results"]
            status = {j["id"]: j["status"] for j in seen}
            if all(status[i] == "COMPLETED" for i in short):
                break
            time.sleep(0.2)
        assert all(status[i] == "COMPLETED" for i in short), status
        assert status[long["id"]] in ("QUEUED", "PROCESSING"), "the short jobs waited for the 8 s job"
        # A worker that stops (its receive watchdog, a crash) is started again, as a supervisor would.
        worker = int(re.search(r"worker\s+pid (\d+)", output).group(1))
        os.killpg(worker, signal.SIGKILL)  # the worker and its prefork child (its own process group)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "started again" not in (tmp_path / "make-run.log").read_text():
            time.sleep(0.5)
        assert f"worker1 exited with -9; started again" in (tmp_path / "make-run.log").read_text()
        assert make.poll() is None
        started = _descendants(make.pid)
        assert len(started) >= 6  # launcher, 2 moto, worker (+ child), recovery, gunicorn (+ workers)
    finally:
        make.send_signal(signal.SIGTERM)
        make.wait(timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(_alive(p) for p in started):
        time.sleep(0.5)
    assert [p for p in started if _alive(p)] == []
    assert "Stopped." in (tmp_path / "make-run.log").read_text()
