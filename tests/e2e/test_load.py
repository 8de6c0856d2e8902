"""2,000 jobs from 16 concurrent clients through two workers: none lost, none run twice.

`countrun` writes a line to the run log each time its handler starts and
finishes, from whichever worker process ran it, so double runs are counted
outside the system under test. Wall time and jobs/s are printed, not asserted.

The clients authenticate with an API token, as programs do: HTTP Basic checks
the password (PBKDF2) on every request, ~0.2 s of CPU each, which alone would
cap this 2-core machine at about 10 requests/s.
"""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import Api
from tests.e2e.helpers import FINAL, run_counts

JOBS = int(os.environ.get("BATCHLAB_LOAD_JOBS", "2000"))
CLIENTS = 16
WORKERS = 2
# Prefork children per worker process (BATCHLAB_WORKER_CONCURRENCY). At the
# default, 1, a worker takes its next message on the 0.1 s poll after each job,
# ~8.5 jobs/s per worker: measured 117 s for the 2,000 (17 jobs/s) on 2 cores.
# With 4, each worker receives up to 4 messages at a time: 51 s (39 jobs/s).
CONCURRENCY = int(os.environ.get("BATCHLAB_LOAD_CONCURRENCY", "4"))
DEADLINE_SECONDS = 240  # the whole run, submission included


@pytest.fixture(scope="module")
def stack(make_stack):
    return make_stack(workers=WORKERS, BATCHLAB_WORKER_CONCURRENCY=CONCURRENCY, BATCHLAB_LOG_LEVEL="WARNING")


def token_client(stack, token: str) -> Api:
    api = Api(stack.web_url)
    api.session.auth = None
    api.session.headers["Authorization"] = f"Token {token}"
    return api


def test_2000_jobs_from_16_clients_none_lost_none_twice(stack):
    token = stack.manage("batchlab_token", "demo").strip()
    started = time.monotonic()
    deadline = started + DEADLINE_SECONDS
    ids: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(n: int):
        api = token_client(stack, token)
        for i in range(n, JOBS, CLIENTS):
            if time.monotonic() > deadline:
                return
            response = api.post("/jobs", json={"name": f"load-{i}", "type": "countrun", "payload": {"seconds": 0}})
            with lock:
                if response.status_code == 201:
                    ids.append(response.json()["id"])
                else:
                    errors.append(f"{response.status_code} {response.text[:200]}")

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    submitted = time.monotonic()
    assert errors == []
    assert len(ids) == len(set(ids)) == JOBS

    # Wait until every job has a 'finish' line in the run log (cheap: a local file).
    wanted = set(ids)
    while time.monotonic() < deadline:
        finished = run_counts(stack, "finish")
        if wanted <= finished.keys():
            break
        time.sleep(0.5)
    drained = time.monotonic()

    # Then ask the API for every job's state, 100 ids a request.
    api = token_client(stack, token)
    statuses = {}
    for k in range(0, len(ids), 100):
        batch = ids[k:k + 100]
        for job in api.get("/jobs", params={"ids": ",".join(batch), "limit": 100}).json()["results"]:
            statuses[job["id"]] = job["status"]
    finishes, starts = run_counts(stack, "finish"), run_counts(stack, "start")
    lost = [i for i in ids if statuses.get(i) not in FINAL]
    twice = [i for i in ids if finishes.get(i, 0) > 1]
    not_completed = [i for i in ids if statuses.get(i) != "COMPLETED"]
    wall = drained - started
    print(
        f"\nload: {JOBS} jobs, {CLIENTS} clients, {WORKERS} workers x {CONCURRENCY}: submitted in {submitted - started:.1f} s "
        f"({JOBS / (submitted - started):.1f} jobs/s), all final after {wall:.1f} s ({JOBS / wall:.1f} jobs/s end to end); "
        f"lost {len(lost)}, completed twice {len(twice)}, handler starts {sum(starts.get(i, 0) for i in ids)}"
    )
    assert lost == [], f"{len(lost)} jobs not final within {DEADLINE_SECONDS} s, e.g. {lost[:5]}"
    assert twice == []
    assert not_completed == []
    assert all(finishes.get(i) == 1 for i in ids)
