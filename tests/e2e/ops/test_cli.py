"""`batchlab` against the real stack: submit, watch (progress bar, transitions), list, show, cancel, types; exit codes."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = Path(sys.executable).parent / "batchlab"


@pytest.fixture(scope="module")
def token(stack) -> str:
    return stack.manage("batchlab_token", "demo").strip()


def run(stack, token, *argv, timeout=90):
    """The installed `batchlab` with --base-url and --token (no BATCHLAB_* from the environment)."""
    env = {k: v for k, v in stack.env().items() if not k.startswith("BATCHLAB_")}
    return subprocess.run([str(CLI), "--base-url", stack.web_url, "--token", token, *argv],
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_submit_and_watch_show_the_progress_bar_and_every_transition(stack, token):
    submitted = run(stack, token, "submit", "sleep", '{"seconds": 2}', "--json")
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    watched = run(stack, token, "watch", job["id"], "--interval", "0.3")
    assert watched.returncode == 0, watched.stderr
    events = [line.split()[1] for line in watched.stderr.splitlines() if line.startswith("20")]
    assert [e for e in events if e != "log"] == ["submitted", "claimed", "completed"], watched.stderr
    assert "2/2" in watched.stderr  # the bar's done/total
    assert "COMPLETED" in watched.stdout and job["id"] in watched.stdout


def test_a_failed_job_exits_1_and_a_canceled_one_2(stack, token):
    failed = run(stack, token, "submit", "fail", '{"message": "boom"}', "--wait", "--json")
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["error"] == {"code": "permanent_error", "message": "boom"}
    slow = json.loads(run(stack, token, "submit", "sleep", '{"seconds": 60}', "--json").stdout)
    canceled = run(stack, token, "cancel", slow["id"], "--json")
    assert canceled.returncode == 0 and json.loads(canceled.stdout)["id"] == slow["id"]
    watched = run(stack, token, "watch", slow["id"], "--json", "--interval", "0.3")
    assert watched.returncode == 2, watched.stderr
    assert json.loads(watched.stdout)["status"] == "CANCELED"
    # --json: one JSON object per timeline event on stderr
    assert [json.loads(line)["event"] for line in watched.stderr.splitlines()][-1] == "canceled"
    retried = run(stack, token, "retry", slow["id"], "--json")
    assert retried.returncode == 0 and json.loads(retried.stdout)["status"] == "QUEUED"
    # Not left running for 60 s under the tests after this one (a worker with it cannot stop warm):
    # the retried job may be claimed between the cancel's read and its write (409 job_state_conflict).
    for _ in range(5):
        again = run(stack, token, "cancel", slow["id"], "--json")
        if again.returncode == 0:
            break
        assert "job_state_conflict" in again.stderr + again.stdout, again.stderr
        time.sleep(0.2)
    assert again.returncode == 0, again.stderr


def test_list_show_and_types_for_people_and_for_scripts(stack, token):
    job = json.loads(run(stack, token, "submit", "echo", '{"x": 1}', "--name", "cli-listed", "--wait", "--json").stdout)
    listed = run(stack, token, "list", "--type", "echo", "--limit", "5")
    assert listed.returncode == 0 and "cli-listed" in listed.stdout
    assert job["id"][:8] in listed.stdout and job["id"] not in listed.stdout  # the short id, on one line of 80 columns
    short = run(stack, token, "show", job["id"][:8])
    assert short.returncode == 3 and "not a whole id" in short.stderr
    page = json.loads(run(stack, token, "list", "--json", "--type", "echo").stdout)
    assert job["id"] in [j["id"] for j in page["results"]]
    shown = run(stack, token, "show", job["id"])
    assert shown.returncode == 0 and "COMPLETED" in shown.stdout and '"x": 1' in shown.stdout
    types = json.loads(run(stack, token, "types", "--json").stdout)
    assert {"echo", "sleep", "wordcount"} <= {t["name"] for t in types["results"]}
    assert "wordcount" in run(stack, token, "types").stdout


def test_api_errors_exit_1_with_the_problem_on_stderr(stack, token):
    unknown = run(stack, token, "submit", "nope", "--json")
    assert unknown.returncode == 1 and json.loads(unknown.stderr)["code"] == "unknown_job_type"
    missing = run(stack, token, "show", "00000000-0000-4000-8000-000000000000")
    assert missing.returncode == 1 and "job_not_found" in missing.stderr
    bad_token = subprocess.run([str(CLI), "--base-url", stack.web_url, "--token", "wrong", "types"],
                               capture_output=True, text=True, timeout=60)
    assert bad_token.returncode == 1 and "401" in bad_token.stderr
