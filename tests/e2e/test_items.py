"""Item jobs on real processes: moto (SQS, S3, DynamoDB), two celery workers, gunicorn."""

import hashlib
import json
import os
import signal

import pytest

from tests.e2e.conftest import Api, run_log
from tests.e2e.helpers import wait_until, worker_logs


@pytest.fixture(scope="module")
def stack(make_stack):
    # A short lease and a fast recovery loop: a chunk whose worker was killed runs again within seconds.
    return make_stack(workers=2, recovery=True, BATCHLAB_LEASE_SECONDS=4, BATCHLAB_RECOVERY_INTERVAL=1,
                      BATCHLAB_STALE_QUEUED_SECONDS=30)


@pytest.fixture(scope="module")
def api(stack) -> Api:
    return Api(stack.web_url, "demo")  # the demo account's API token (tests/e2e/conftest.py)


def submit_items(api, type, items, **extra):
    response = api.post("/jobs", json={"name": f"{type} items", "type": type, "items": items, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def results(api, job_id) -> list[dict]:
    response = api.get(f"/jobs/{job_id}/results")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines()]


def test_inline_items_run_in_chunks_and_results_come_back_in_input_order(api):
    items = [f"item-{i}" for i in range(600)]
    job = submit_items(api, "checksum", items, chunk_size=30)
    assert job["items"]["total"] == 600 and job["items"]["chunks_total"] == 20
    done = api.wait(job["id"], timeout=120)
    assert done["status"] == "COMPLETED", done
    assert done["items"]["succeeded"] == 600 and done["items"]["failed"] == 0 and done["items"]["chunks_done"] == 20
    rows = results(api, job["id"])
    assert [r["line"] for r in rows] == list(range(1, 601))
    assert [r["result"]["sha256"] for r in rows] == [hashlib.sha256(s.encode()).hexdigest() for s in items]
    chunks = api.get(f"/jobs/{job['id']}/chunks?limit=15").json()
    assert len(chunks["results"]) == 15 and chunks["next_cursor"]
    rest = api.get(f"/jobs/{job['id']}/chunks?limit=15&cursor={chunks['next_cursor']}").json()
    assert [c["number"] for c in chunks["results"] + rest["results"]] == list(range(1, 21))
    assert {c["status"] for c in rest["results"]} == {"DONE"}


def test_a_thousand_inline_items_of_110_bytes_are_one_item_job_over_http(api):
    items = [f"{i:04d}" + "x" * 104 for i in range(1000)]  # 110 bytes each as JSON: a body of 112 KB
    job = submit_items(api, "checksum", items)
    done = api.wait(job["id"], timeout=120)
    assert done["status"] == "COMPLETED" and done["items"]["succeeded"] == 1000, done


def test_one_percent_permanent_failures_complete_the_job_and_retry_reruns_only_their_chunks(api, stack, tmp_path):
    cure = tmp_path / "cured"
    items = [{"v": i, "fail": i % 100 == 7} for i in range(500)]
    job = submit_items(api, "probe", items, payload={"cure_file": str(cure)}, chunk_size=50)
    done = api.wait(job["id"], timeout=120)
    assert done["status"] == "COMPLETED" and done["items"]["failed"] == 5 and done["items"]["succeeded"] == 495
    failed = api.get(f"/jobs/{job['id']}/items?status=failed&limit=4").json()
    assert [r["line"] for r in failed["results"]] == [8, 108, 208, 308]
    assert failed["results"][0]["input"] == {"v": 7, "fail": True}
    assert failed["results"][0]["error"]["code"] == "permanent_error"
    cure.write_text("the cause is gone")
    before = len(run_log(stack))
    assert api.post(f"/jobs/{job['id']}/retry").status_code == 202
    again = api.wait(job["id"], timeout=120)
    assert again["status"] == "COMPLETED" and again["items"]["failed"] == 0 and again["items"]["succeeded"] == 500
    rerun = [line.split()[0] for line in run_log(stack)[before:] if line.startswith(job["id"])]
    # Only the 5 failed items ran again, each in its own chunk (1, 3, 5, 7, 9); the other 5 chunks did not run.
    assert len(rerun) == 5 and sorted(set(rerun)) == sorted(f"{job['id']}#{n}" for n in (1, 3, 5, 7, 9))


def chunk_rows(api, job_id) -> list[dict]:
    return api.get(f"/jobs/{job_id}/chunks?limit=1000").json()["results"]


def item_runs(stack, job_id) -> dict[int, list[int]]:
    """chunk number -> the lines its items ran (one entry per run, from the probe type's run log)."""
    runs: dict[int, list[int]] = {}
    for line in run_log(stack):
        parts = line.split()
        if len(parts) == 4 and parts[1] == "item" and parts[0].startswith(f"{job_id}#"):
            runs.setdefault(int(parts[0].split("#")[1]), []).append(int(parts[2]))
    return runs


def test_kill_9_in_the_middle_of_a_chunk_reruns_that_chunk_alone_and_counts_stay_exact(api, stack):
    items = [{"v": i, "sleep": 0.25} for i in range(60)]
    job = submit_items(api, "probe", items, chunk_size=10)
    victim = wait_until(
        lambda: next((c for c in chunk_rows(api, job["id"]) if c["status"] == "PROCESSING" and len(item_runs(stack, job["id"]).get(c["number"], [])) >= 2), None),
        timeout=60, what="a chunk half-way through")
    os.kill(int(victim["worker"].rsplit(":", 1)[1]), signal.SIGKILL)
    done = api.wait(job["id"], timeout=120)
    assert done["status"] == "COMPLETED" and done["items"]["succeeded"] == 60 and done["items"]["chunks_done"] == 6
    runs = item_runs(stack, job["id"])
    for number, lines in runs.items():
        expected = list(range(number * 10 - 9, number * 10 + 1))
        if number == victim["number"]:
            assert len(lines) > 10 and sorted(set(lines)) == expected  # run again, whole
        else:
            assert lines == expected  # every other chunk ran exactly once
    rows = {c["number"]: c for c in chunk_rows(api, job["id"])}
    assert rows[victim["number"]]["attempts"] == 2 and all(c["attempts"] == 1 for n, c in rows.items() if n != victim["number"])


def test_a_chunk_message_delivered_twice_is_counted_once(api, stack):
    job = submit_items(api, "probe", [{"v": i} for i in range(20)], chunk_size=10)
    api.wait(job["id"])
    from batchlab.celery import app

    with app.connection_for_write(stack.sqs_endpoint.replace("http://", "sqs://testing:testing@")) as conn:
        app.send_task("jobs.process_chunk", args=[job["id"], 1], connection=conn, queue="jobs")
    wait_until(lambda: f"chunk {job['id']}#1 not claimed" in worker_logs(stack), timeout=30, what="the duplicate refused")
    again = api.get(f"/jobs/{job['id']}").json()
    assert again["items"]["succeeded"] == 20 and again["items"]["chunks_done"] == 2 and again["version"] == api.wait(job["id"])["version"]
    assert sum(len(v) for v in item_runs(stack, job["id"]).values()) == 20


def test_items_with_idempotency_keys_submitted_twice_run_once(api, stack):
    items = [{"item": {"v": i}, "idempotency_key": f"order-{i}"} for i in range(30)]
    first = api.wait(submit_items(api, "probe", items, chunk_size=10)["id"])
    second = api.wait(submit_items(api, "probe", items, chunk_size=10)["id"])
    assert (first["items"]["succeeded"], first["items"]["skipped"]) == (30, 0)
    assert (second["status"], second["items"]["succeeded"], second["items"]["skipped"]) == ("COMPLETED", 0, 30)
    assert item_runs(stack, second["id"]) == {}
    skipped = api.get(f"/jobs/{second['id']}/items?status=skipped&limit=1").json()["results"][0]
    assert first["id"] in skipped["reason"]


def test_cancel_in_the_middle_stops_between_chunks_and_counts_stay_consistent(api, stack):
    job = submit_items(api, "probe", [{"v": i, "sleep": 0.05} for i in range(200)], chunk_size=10)
    wait_until(lambda: api.get(f"/jobs/{job['id']}").json()["items"]["chunks_done"] >= 3, timeout=60, what="3 chunks done")
    assert api.post(f"/jobs/{job['id']}/cancel").status_code == 200
    done_at_cancel = api.get(f"/jobs/{job['id']}").json()["items"]["chunks_done"]
    final = api.wait(job["id"], timeout=120)
    assert final["status"] == "CANCELED"
    rows = chunk_rows(api, job["id"])
    runs = item_runs(stack, job["id"])
    ran = [c for c in rows if runs.get(c["number"])]
    # Only chunks done or running when the cancel was recorded ran items (one per worker at most).
    assert len(ran) <= done_at_cancel + 2 < 20
    assert {c["status"] for c in rows} == {"DONE", "CANCELED"} and final["items"]["chunks_done"] == 20
    assert final["items"]["succeeded"] == sum(c["succeeded"] for c in rows) == sum(len(v) for v in runs.values())


def test_command_line_submits_an_items_file_and_its_exit_code_says_items_failed(stack, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    env = dict(stack.env(), BATCHLAB_URL=stack.web_url, BATCHLAB_USER="demo", BATCHLAB_PASSWORD="demo")
    cli = Path(sys.executable).parent / "batchlab"
    good = tmp_path / "good.ndjson"
    good.write_text("".join(json.dumps(f"s{i}") + "\n" for i in range(300)))
    done = subprocess.run([str(cli), "submit", "checksum", "--items-file", str(good), "--wait", "--timeout", "120", "--json"],
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["status"] == "COMPLETED" and job["items"]["succeeded"] == 300 and job["items"]["chunks_total"] == 3
    mixed = tmp_path / "mixed.ndjson"
    mixed.write_text("".join(json.dumps({"v": i, "fail": i == 5}) + "\n" for i in range(20)))
    failed = subprocess.run([str(cli), "submit", "probe", "--items-file", str(mixed), "--chunk-size", "10", "--wait", "--timeout", "120"],
                            env=env, capture_output=True, text=True, timeout=180)
    assert failed.returncode == 6, failed.stderr  # COMPLETED, with one failed item
    assert "1 items failed" in failed.stderr
