"""One real stack for every operations test (CLI, health, workers, metrics), started once for the package.

Heartbeats every second (a stale worker shows within seconds), two prefork
children per worker (metrics must add up across them), no metrics cache, JSON logs.
"""

import os
import signal
import subprocess
import time

import pytest
import requests

from devstack.launcher import BIN, ROOT, EmbeddedStack, free_port, wait_for_port
from tests.e2e.conftest import TEST_ENV, Api

OPS_ENV = {
    "BATCHLAB_WORKER_HEARTBEAT_SECONDS": "1",
    "BATCHLAB_WORKER_CONCURRENCY": "2",
    "BATCHLAB_METRICS_CACHE_SECONDS": "0",
    "BATCHLAB_LOG_FORMAT": "json",
}


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ops-stack")
    extra = dict(TEST_ENV, **OPS_ENV)
    extra.update(BATCHLAB_SQLITE_PATH=str(tmp / "db.sqlite3"), BATCHLAB_RUN_LOG=str(tmp / "runs.log"))
    stack = EmbeddedStack(
        web_port=free_port(), sqs_port=free_port(), dynamodb_port=free_port(),
        workers=1, recovery=False, web=True, log_dir=tmp / "log", extra_env=extra, quiet=True,
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="package")
def api(stack) -> Api:
    return Api(stack.web_url, "demo")


@pytest.fixture(scope="package")
def staff_api(stack) -> Api:
    return Api(stack.web_url, "admin")


@pytest.fixture
def extra_web(stack, tmp_path):
    """`extra_web(**env)`: one more gunicorn of this stack with changed environment; stopped by PID after the test."""
    procs = []

    def start(**env) -> str:
        port = free_port()
        log = open(tmp_path / f"web-{port}.log", "ab")
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "batchlab.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            cwd=ROOT, env={**stack.env(), **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        procs.append(proc)
        wait_for_port("127.0.0.1", port, timeout=60, proc=proc, name="extra web server")
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def wait_for(predicate, *, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(0.2)


def get_json(url: str, **kw):
    return requests.get(url, timeout=30, **kw).json()
