"""Fixtures that run the real stack: moto servers, `celery -A batchlab worker`, gunicorn.

`make_stack(**env)` starts a stack on free ports with extra environment, and
stops every process it started (by PID) when the test module ends.
"""

import os
import time
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from devstack.launcher import TOKENS_BY_URL, EmbeddedStack, free_port



def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)

TEST_ENV = {
    "BATCHLAB_TEST_HANDLERS": "1",
    "BATCHLAB_RETRY_BASE_SECONDS": "0.2",
    "BATCHLAB_RETRY_MAX_SECONDS": "1",
    "BATCHLAB_LOG_LEVEL": "INFO",
    # Staff pages must show counts that include the jobs a test just made.
    "BATCHLAB_STATUS_COUNTS_CACHE_SECONDS": "0",
}


class Api:
    """A requests session bound to the stack's web URL, authenticated as one user."""

    def __init__(self, base: str, user: str = "demo", password: str | None = None):
        self.base = base
        self.session = requests.Session()
        self.basic = (user, password or user)  # for a test that sends HTTP Basic itself
        token = TOKENS_BY_URL.get(base, {}).get(user) if password is None else None
        if token:  # a demo account of a started stack: its API token (Basic hashes the password on every request)
            self.session.headers["Authorization"] = f"Token {token}"
        else:
            self.session.auth = self.basic
        # gunicorn closes an idle keep-alive connection after 2 s; a GET sent on it just
        # then is reset. Only idempotent GETs are tried again; a POST never is.
        retry = Retry(
            total=2, connect=2, read=2, status=0, other=0, allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=False,  # a 503 with Retry-After is an answer the test reads, not a retry
        )
        self.session.mount("http://", HTTPAdapter(max_retries=retry))

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, path, **kw):
        return self.session.get(self.url(path), timeout=30, **kw)

    def post(self, path, **kw):
        return self.session.post(self.url(path), timeout=30, **kw)

    def submit(self, type: str, payload: dict | None = None, name: str | None = None, **kw) -> dict:
        response = self.post("/jobs", json={"name": name or f"{type} job", "type": type, "payload": payload or {}}, **kw)
        assert response.status_code == 201, response.text
        return response.json()

    def wait(self, job_id: str, statuses=("COMPLETED", "FAILED", "CANCELED"), timeout: float = 60) -> dict:
        """Poll GET /jobs/{id} until the job reaches one of `statuses` (bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        job = None
        while time.monotonic() < deadline:
            job = self.get(f"/jobs/{job_id}").json()
            if job.get("status") in statuses:
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not reach {statuses} within {timeout} s; last seen: {job}")


@pytest.fixture(scope="module")
def make_stack(tmp_path_factory):
    stacks = []

    def start(*, workers: int = 1, recovery: bool = False, web: bool = True, schedulers: int = 0, **env) -> EmbeddedStack:
        tmp = tmp_path_factory.mktemp("stack")
        extra = dict(TEST_ENV)
        extra.update(BATCHLAB_SQLITE_PATH=str(tmp / "db.sqlite3"), BATCHLAB_RUN_LOG=str(tmp / "runs.log"))
        extra.update({k: str(v) for k, v in env.items()})
        stack = EmbeddedStack(
            web_port=free_port(), sqs_port=free_port(), dynamodb_port=free_port(),
            workers=workers, recovery=recovery, schedulers=schedulers, web=web, log_dir=tmp / "log", extra_env=extra, quiet=True,
        )
        stacks.append(stack)
        stack.start()
        return stack

    yield start
    for stack in stacks:
        stack.stop()


@pytest.fixture(scope="module")
def stack(make_stack):
    """The default stack for a test module: one worker, no recovery loop."""
    return make_stack()


@pytest.fixture(scope="module")
def api(stack) -> Api:
    return Api(stack.web_url, "demo")


@pytest.fixture(scope="module")
def staff_api(stack) -> Api:
    return Api(stack.web_url, "admin")


def run_log(stack: EmbeddedStack) -> list[str]:
    path = Path(stack.extra_env["BATCHLAB_RUN_LOG"])
    return path.read_text().splitlines() if path.exists() else []


def dump_logs(stack: EmbeddedStack) -> str:
    out = []
    for log in sorted(Path(stack.log_dir).glob("*.log")):
        out.append(f"==== {log.name}\n" + log.read_text(errors="replace")[-4000:])
    return "\n".join(out)


os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
