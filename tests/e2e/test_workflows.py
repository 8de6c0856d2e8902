"""Workflows on the real stack (moto servers, 2 celery workers, gunicorn): releases in order, fan-in, failure policies,
callbacks once, cancel and retry of the whole tree, the bad-definition table, the CLI."""

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import Api, run_log
from tests.e2e.helpers import wait_until

pytestmark = pytest.mark.timeout(600)

FINAL = ("COMPLETED", "FAILED", "CANCELED")


@pytest.fixture(scope="module")
def stack(make_stack):
    return make_stack(workers=2, recovery=True, BATCHLAB_STALE_QUEUED_SECONDS=5)


@pytest.fixture(scope="module")
def api(stack) -> Api:
    return Api(stack.web_url, "demo")


def submit(api: Api, body: dict, **headers) -> dict:
    response = api.post("/workflows", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def settled(api: Api, workflow_id: str, timeout: float = 180) -> dict:
    """Wait until the workflow is final and every step (callbacks too) is."""
    def done():
        wf = api.get(f"/workflows/{workflow_id}").json()
        return wf if wf["status"] in FINAL and wf["steps_done"] == len(wf["steps"]) else None
    return wait_until(done, timeout=timeout, interval=0.5, what=f"workflow {workflow_id} settled")


def steps(wf: dict) -> dict:
    return {s["name"]: s for s in wf["steps"]}


def job(api: Api, job_id: str) -> dict:
    return api.get(f"/jobs/{job_id}").json()


def test_a_diamond_runs_b_and_c_after_a_and_d_after_both_with_their_results(api, stack):
    wf = submit(api, {"name": "diamond", "steps": {
        "a": {"type": "countrun", "payload": {"seconds": 0.5}},
        "b": {"type": "countrun", "payload": {"seconds": 0.2}, "needs": ["a"]},
        "c": {"type": "countrun", "payload": {"seconds": 0.3}, "needs": ["a"]},
        "d": {"type": "collect", "needs": ["b", "c"]}}})
    wf = settled(api, wf["id"])
    assert wf["status"] == "COMPLETED"
    by = steps(wf)
    ids = {n: by[n]["job_id"] for n in "abcd"}
    a, b, c, d = (job(api, ids[n]) for n in "abcd")
    # The run log is appended by every worker in the order things happened.
    log = [line.split()[:2] for line in run_log(stack) if line.split()[0] in ids.values()]
    order = [(next(n for n, i in ids.items() if i == job_id), event) for job_id, event in log]
    assert order.index(("a", "finish")) < order.index(("b", "start"))
    assert order.index(("a", "finish")) < order.index(("c", "start"))
    assert b["started_at"] >= a["finished_at"] and c["started_at"] >= a["finished_at"]
    assert d["started_at"] >= b["finished_at"] and d["started_at"] >= c["finished_at"]
    assert set(d["result"]["parents"]) == {"b", "c"}
    assert d["result"]["parents"]["b"]["result"] == b["result"] and d["result"]["parents"]["c"]["result"] == c["result"]
    for name in "bcd":  # released exactly once each: one "released" event in its timeline
        assert sum(1 for e in job(api, ids[name])["timeline"] if e["event"] == "released") == 1


def test_a_fan_out_of_100_into_one_collect_sees_100_results(api):
    fan = {f"s{i:03d}": {"type": "echo", "payload": {"i": i}} for i in range(100)}
    wf = submit(api, {"name": "fan-in", "steps": {**fan, "all": {"type": "collect", "needs": sorted(fan)}}})
    wf = settled(api, wf["id"], timeout=300)
    assert wf["status"] == "COMPLETED"
    collected = job(api, steps(wf)["all"]["job_id"])["result"]
    assert collected["count"] == 100 and collected["by_reference"] == 0
    assert {name: seen["result"]["i"] for name, seen in collected["parents"].items()} == {f"s{i:03d}": i for i in range(100)}


def test_an_item_step_runs_its_chunks_on_both_workers_after_its_parent_and_hands_its_counts_down(api):
    wf = submit(api, {"name": "scored", "steps": {
        "extract": {"type": "echo", "payload": {"source": "lines"}},
        "score": {"type": "checksum", "items": [f"line {i}" for i in range(200)], "chunk_size": 20, "needs": ["extract"]},
        "report": {"type": "collect", "needs": ["extract", "score"]}}})
    wf = settled(api, wf["id"])
    assert wf["status"] == "COMPLETED", steps(wf)
    by = steps(wf)
    extract, score, report = (job(api, by[n]["job_id"]) for n in ("extract", "score", "report"))
    assert score["items"]["succeeded"] == 200 and score["started_at"] >= extract["finished_at"]
    assert report["started_at"] >= score["finished_at"]
    seen = report["result"]["parents"]["score"]
    assert seen["items"] == {"total": 200, "succeeded": 200, "failed": 0, "skipped": 0}
    results = api.get(seen["results"])  # NDJSON, one line per item
    assert results.status_code == 200 and len(results.text.splitlines()) == 200, results.text[:300]


def test_a_failing_parent_cancels_its_subtree_and_runs_on_failure_once(api):
    wf = submit(api, {"name": "failing", "steps": {
        "a": {"type": "fail", "payload": {"message": "boom"}},
        "b": {"type": "echo", "needs": ["a"]},
        "c": {"type": "echo", "needs": ["b"]},
        "keep": {"type": "echo", "needs": ["a"], "on_parent_failure": "continue"}},
        "on_failure": {"type": "echo", "payload": {"alert": 1}}, "on_success": {"type": "echo"},
        "on_complete": {"type": "echo"}})
    wf = settled(api, wf["id"])
    by = steps(wf)
    assert wf["status"] == "FAILED"
    assert (by["a"]["status"], by["b"]["status"], by["c"]["status"]) == ("FAILED", "CANCELED", "CANCELED")
    assert by["b"]["error"]["code"] == by["c"]["error"]["code"] == "dependency_failed"
    keep = job(api, by["keep"]["job_id"])
    assert keep["status"] == "COMPLETED" and keep["workflow"]["parents"][0]["step"] == "a"
    assert by["on_failure"]["status"] == "COMPLETED" and by["on_complete"]["status"] == "COMPLETED"
    assert by["on_success"]["status"] == "CANCELED" and by["on_success"]["error"]["code"] == "not_applicable"
    failure = job(api, by["on_failure"]["job_id"])
    assert failure["attempts"] == 1 and sum(1 for e in failure["timeline"] if e["event"] == "released") == 1


def test_a_retried_parent_that_succeeds_releases_its_children_and_nothing_else_runs_again(api, stack):
    wf = submit(api, {"name": "retry", "steps": {
        "a": {"type": "countrun"},
        "b": {"type": "flaky", "payload": {"failures": 5}, "needs": ["a"]},
        "c": {"type": "countrun", "needs": ["b"]},
        "side": {"type": "countrun", "needs": ["a"]}}})
    wf = settled(api, wf["id"])
    by = steps(wf)
    assert wf["status"] == "FAILED" and by["b"]["status"] == "FAILED" and by["c"]["status"] == "CANCELED"
    runs_before = {n: sum(1 for line in run_log(stack) if line.startswith(by[n]["job_id"] + " start")) for n in ("a", "side")}
    response = api.post(f"/workflows/{wf['id']}/retry")
    assert response.status_code == 202, response.text
    # b fails its first 5 attempts (3 allowed); the retry gives it 3 more: its 6th succeeds, then c runs.
    wf = settled(api, wf["id"])
    by = steps(wf)
    assert wf["status"] == "COMPLETED" and by["c"]["status"] == "COMPLETED" and wf["runs"] == 2
    assert job(api, by["b"]["job_id"])["result"] == {"succeeded_on_attempt": 6}
    runs_after = {n: sum(1 for line in run_log(stack) if line.startswith(by[n]["job_id"] + " start")) for n in ("a", "side")}
    assert runs_after == runs_before == {"a": 1, "side": 1}


def test_cancel_mid_way_starts_no_step_after_it_is_recorded(api, stack):
    wf = submit(api, {"name": "cancel", "steps": {
        "slow": {"type": "countrun", "payload": {"seconds": 30}},
        **{f"w{i}": {"type": "countrun", "needs": ["slow"]} for i in range(5)},
        "end": {"type": "collect", "needs": [f"w{i}" for i in range(5)]}}, "on_complete": {"type": "echo"}})
    slow = steps(wf)["slow"]["job_id"]
    wait_until(lambda: job(api, slow)["status"] == "PROCESSING", timeout=60, what="slow step running")
    response = api.post(f"/workflows/{wf['id']}/cancel")
    assert response.status_code == 200, response.text
    recorded = response.json()["canceled_at"]
    assert recorded is not None
    wf = settled(api, wf["id"])
    assert wf["status"] == "CANCELED"
    for step in wf["steps"]:
        assert step["status"] == "CANCELED", step
        if step["name"] != "slow":
            assert step["started_at"] is None, step  # never started
    started = [line.split()[0] for line in run_log(stack) if line.split()[1] == "start"]
    assert all(steps(wf)[f"w{i}"]["job_id"] not in started for i in range(5))
    assert api.post(f"/workflows/{wf['id']}/cancel").status_code == 409


@pytest.mark.parametrize(("body", "field"), [
    ({"a": {"type": "echo", "needs": ["b"]}, "b": {"type": "echo", "needs": ["a"]}}, "steps.a.needs"),
    ({"a": {"type": "echo", "needs": ["nope"]}}, "steps.a.needs"),
    ({"a b": {"type": "echo"}}, "steps.a b"),
    ({f"s{i}": {"type": "echo"} for i in range(501)}, "steps"),
    ({"a": {"type": "sleep", "payload": {"seconds": -1}}}, "steps.a.payload.seconds"),
])
def test_a_bad_definition_is_a_400_problem_naming_its_cause(api, body, field):
    response = api.post("/workflows", json={"name": "bad", "steps": body})
    assert response.status_code == 400 and response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "invalid_workflow" and field in problem["errors"], problem


def test_an_idempotency_key_submits_once(api):
    body = {"name": "once", "steps": {"a": {"type": "echo"}}}
    first = submit(api, body, **{"Idempotency-Key": "wf-e2e-1"})
    again = submit(api, body, **{"Idempotency-Key": "wf-e2e-1"})
    assert first["id"] == again["id"]
    assert sum(1 for w in api.get("/workflows?limit=100").json()["results"] if w["id"] == first["id"]) == 1


def test_the_cli_submits_a_file_and_waits_for_every_step(stack, tmp_path):
    path = tmp_path / "wf.json"
    path.write_text(json.dumps({"name": "cli", "steps": {"a": {"type": "echo"}, "b": {"type": "echo", "needs": ["a"]}},
                                "on_complete": {"type": "echo"}}))
    env = {**os.environ, "BATCHLAB_URL": stack.web_url, "BATCHLAB_USER": "demo", "BATCHLAB_PASSWORD": "demo"}
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "workflows", "submit", str(path), "--wait", "--json",
                           "--timeout", "120", "--interval", "0.3"], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    wf = json.loads(done.stdout)
    assert wf["status"] == "COMPLETED" and wf["steps_done"] == 3
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert sorted(line["step"] for line in lines) == ["a", "b", "on_complete"]
    listed = subprocess.run([sys.executable, "-m", "jobs.cli", "workflows", "list", "--json"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert wf["id"] in [w["id"] for w in json.loads(listed.stdout)["results"]]


def test_the_cli_shows_cancels_and_retries_a_workflow(api, stack):
    env = {**os.environ, "BATCHLAB_URL": stack.web_url, "BATCHLAB_USER": "demo", "BATCHLAB_PASSWORD": "demo"}

    def cli(*args) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "jobs.cli", "workflows", *args], env=env, capture_output=True,
                              text=True, timeout=60)

    wf = submit(api, {"name": "long", "steps": {"slow": {"type": "sleep", "payload": {"seconds": 30}},
                                                "after": {"type": "echo", "needs": ["slow"]}}})
    wait_until(lambda: steps(api.get(f"/workflows/{wf['id']}").json())["slow"]["status"] == "PROCESSING", timeout=60,
               what="the slow step running")
    shown = cli("show", wf["id"])
    assert shown.returncode == 0 and "slow" in shown.stdout and "after" in shown.stdout, shown.stdout + shown.stderr
    canceled = cli("cancel", wf["id"], "--json")
    assert canceled.returncode == 0, canceled.stderr
    wf = settled(api, wf["id"], timeout=60)
    assert wf["status"] == "CANCELED" and {s["status"] for s in wf["steps"]} == {"CANCELED"}
    again = cli("retry", wf["id"], "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "RUNNING", again.stdout + again.stderr
    refused = cli("retry", wf["id"])  # running again: a retry is refused, and the CLI says why
    assert refused.returncode != 0 and "FAILED or CANCELED" in refused.stderr, refused.stderr
    assert cli("cancel", wf["id"]).returncode == 0
    assert settled(api, wf["id"], timeout=60)["status"] == "CANCELED"
