"""Flow control on real processes (moto servers, 2 workers x 4, gunicorn): pause and resume, and the API's refusals.

A staff edit reaches every worker through its settings cache (BATCHLAB_TYPE_SETTINGS_SECONDS);
the tests wait for what a person would see (a status, waiting_for), never a fixed time,
except where the issue asks that a state hold for 30 s, which they watch all along.
"""

import time

import pytest

from tests.e2e.conftest import Api
from tests.e2e.helpers import wait_until

HOLD_SECONDS = 30
# An edit takes effect on every worker within this (the bound; BATCHLAB_TYPE_SETTINGS_SECONDS is 2).
EDIT_EFFECT_SECONDS = 5


@pytest.fixture(scope="module")
def stack(make_stack):
    return make_stack(workers=2, BATCHLAB_WORKER_CONCURRENCY=4)


@pytest.fixture(scope="module")
def staff(stack) -> Api:
    return Api(stack.web_url, "admin")


def status(api: Api, job_id: str) -> dict:
    return api.get(f"/jobs/{job_id}").json()


def test_a_paused_type_waits_while_others_run_and_resume_runs_it(api, staff):
    running = api.submit("sleep", {"seconds": 6}, name="running when paused")
    api.wait(running["id"], statuses=("PROCESSING",))
    assert staff.post("/job-types/sleep/pause").json()["settings"]["paused"] is True
    # Jobs sent after the bound must all be held, on whichever of the 8 worker processes they land:
    # this is the test of the bound, not a wait that happens to be long enough.
    time.sleep(EDIT_EFFECT_SECONDS)
    held = [api.submit("sleep", {"seconds": 0.2}, name=f"held-{i}")["id"] for i in range(3)]
    others = [api.submit("echo", {"i": i})["id"] for i in range(3)]
    assert all(api.wait(j)["status"] == "COMPLETED" for j in others)  # other types run
    wait_until(lambda: all(status(api, j)["waiting_for"] == "paused" for j in held), timeout=30, what="held jobs wait")
    deadline = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < deadline:  # the pause holds: watched, not slept through
        seen = [status(api, j) for j in held]
        assert all(j["status"] == "QUEUED" and j["waiting_for"] == "paused" and j["attempts"] == 0 for j in seen), seen
        time.sleep(1)
    # The job that was running when the type was paused finished undisturbed.
    done = api.wait(running["id"])
    assert done["status"] == "COMPLETED" and done["attempts"] == 1
    page = api.get("/job-types/sleep").json()
    assert page["settings"]["paused"] is True
    resumed = staff.post("/job-types/sleep/resume").json()
    assert resumed["settings"]["paused"] is False and [e["action"] for e in resumed["history"][:2]] == ["resume", "pause"]
    finished = [api.wait(j, timeout=60) for j in held]
    assert all(j["status"] == "COMPLETED" and j["attempts"] == 1 and j["waiting_for"] is None for j in finished)
    assert all(any(e["event"] == "waiting" for e in j["timeline"]) for j in finished)


@pytest.mark.parametrize("body, field", [
    ({"rate_limit": "0/s"}, "rate_limit"), ({"rate_limit": "ten/s"}, "rate_limit"),
    ({"concurrency_limit": -1}, "concurrency_limit"), ({"key_concurrency_limit": -3}, "key_concurrency_limit"),
    ({"priority": "urgent"}, "priority"),
])
def test_bad_settings_are_refused_with_a_problem(staff, body, field):
    response = staff.session.patch(staff.url("/job-types/echo"), json=body, timeout=30)
    assert response.status_code == 400 and response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_error" and list(response.json()["errors"]) == [field]


def test_refusals_of_who_and_what(api, staff):
    response = api.session.patch(api.url("/job-types/echo"), json={"paused": True}, timeout=30)
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    response = staff.session.patch(staff.url("/job-types/no-such-type"), json={"paused": True}, timeout=30)
    assert response.status_code == 404 and response.json()["code"] == "job_type_not_found"
    response = api.post("/jobs", json={"name": "x", "type": "echo", "payload": {}, "priority": "urgent"})
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
    assert list(response.json()["errors"]) == ["priority"]
    assert api.get("/job-types/echo").json()["settings"]["paused"] is False
