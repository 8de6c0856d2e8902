"""`make bench` with tiny counts: every scenario runs on the real stack and the table has every figure with both baselines and the target lines."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_bench_runs_every_scenario_against_its_baseline():
    run = subprocess.run(
        [sys.executable, "-m", "devstack.bench", "--drain-jobs", "12", "--submit-jobs", "6", "--clients", "4",
         "--configs", "1x2", "--warmup", "0", "--latency-jobs", "2", "--steady-rate", "4", "--steady-seconds", "1",
         "--idle-seconds", "0", "--batch-items", "20", "--chunk-size", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    for figure in ("drain 18, 1 workers x 2 (jobs/s)", "worker CPU per job, 1 x 2", "DynamoDB write units per job, 1 x 2",
                   "web CPU per POST, 4 clients", "web CPU per POST, 1 clients", "worker CPU per job at 4 jobs/s",
                   "POST -> done at low load, p50"):
        assert f"| {figure}" in out, figure
    for target in ("drain 1x2", "worker CPU per job 1x2", "DynamoDB write units per job", "web CPU per POST 4 clients",
                   "web CPU per POST 1 clients", "POST -> COMPLETED p50 at low load", "item job throughput", "item job 2 workers vs 1"):
        assert any(line.startswith(f"target {target}: ") and line.endswith((" — met", " — missed"))
                   for line in out.splitlines()), target
    result = json.loads(Path(out.rsplit("Figures written to ", 1)[1].strip()).read_text())
    ours = next(d for d in result["drains"] if d["system"] == "batchlab")
    base = next(d for d in result["drains"] if d["system"] == "bare")
    peer = next(d for d in result["drains"] if d["system"] == "peer")
    # Counted at the boundary: every job was sent, received, claimed, completed and deleted.
    # Each worker also records its heartbeat (one PutItem every 15 s): a little over 1.
    assert 1 <= ours["requests_per_job"]["dynamodb.PutItem"] < 1.5
    assert ours["requests_per_job"]["dynamodb.UpdateItem"] == 2
    assert ours["requests_per_job"]["sqs.SendMessage"] == 1
    assert ours["requests_per_job"]["sqs.DeleteMessage"] == 1
    # At most one receive per job on its queue, plus the long poll each worker keeps open on each of
    # the two idle priority queues (one per 20 s): a few, over this run's 18 jobs.
    assert 0 < ours["requests_per_job"]["sqs.ReceiveMessage"] < 1.5
    # Reads: one consistent Query of the owner's webhook endpoints per submission (0.5 read unit), and
    # each worker process's read of the job types' settings every BATCHLAB_TYPE_SETTINGS_SECONDS
    # (a few over this short run); nothing else reads on the way of a job.
    assert set(ours["read_units_per_job"]) == {"dynamodb.Query"}
    assert 0.5 <= ours["read_units_per_job"]["dynamodb.Query"] < 2.5
    assert base["requests_per_job"]["sqs.SendMessage"] == 1 and base["requests_per_job"]["sqs.DeleteMessage"] == 1
    # The peer: its view sends, its worker stores the state at the start and at the end (Celery's
    # DynamoDB backend reads the stored state before each write).
    assert peer["requests_per_job"]["sqs.SendMessage"] == 1 and peer["requests_per_job"]["sqs.DeleteMessage"] == 1
    assert peer["requests_per_job"]["dynamodb.PutItem"] == 2
    assert peer["write_units_per_job"]["dynamodb.PutItem"] >= 2
    assert "USD per million jobs" in out
    assert [b["status"] for b in result["batch"]] == ["COMPLETED", "COMPLETED"]
    assert "item job, 20 checksum items in chunks of 5, 1 workers" in out and "per million items" in out
    assert {x["system"] for x in result["latency"]} == {"peer", "batchlab"}
    # The scheduler's clock-driven queries are not counted per job: the Queries are the two reads above.
    assert 1 <= ours["requests_per_job"]["dynamodb.Query"] < 2.5
