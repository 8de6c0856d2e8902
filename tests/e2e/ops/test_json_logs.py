"""BATCHLAB_LOG_FORMAT=json on real processes: the web's and the worker's log lines carry the request id and the job."""

import json

from tests.e2e.ops.conftest import wait_for


def json_lines(path) -> list[dict]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_a_jobs_log_lines_name_the_request_the_job_and_the_worker(stack, api):
    job = api.submit("flaky", {"failures": 1}, headers={"X-Request-ID": "ops-json-1"})
    assert api.wait(job["id"])["status"] == "COMPLETED"
    web = wait_for(lambda: [r for r in json_lines(stack.log_dir / "web.log") if r.get("request_id") == "ops-json-1"],
                   what="the web's line of the submission")
    assert any(job["id"] in r["message"] and r["logger"].startswith("jobs.") for r in web), web
    worker = wait_for(lambda: [r for r in json_lines(stack.log_dir / "worker1.log") if r.get("job_id") == job["id"]],
                      what="the worker's lines of the job")
    assert {r["attempt"] for r in worker} == {1, 2}  # the first attempt failed (flaky), the second completed
    assert all(r["job_type"] == "flaky" and r["worker"] and r["level"] and r["time"] for r in worker)
    assert any("COMPLETED" in r["message"] for r in worker)
