"""Helpers for the fault tests: bounded waits, worker process trees from /proc, the run log."""

import os
import signal
import time
from pathlib import Path

import boto3

from devstack.launcher import EmbeddedStack

FINAL = ("COMPLETED", "FAILED", "CANCELED")


def wait_until(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Call `predicate` until it returns something truthy (returned) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(interval)


def parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    # The command name is in parentheses and may contain spaces: split after it.
    return int(stat.rsplit(")", 1)[1].split()[1])


def child_pids(pid: int) -> list[int]:
    pids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except FileNotFoundError:
            pass
    return pids


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot): with the pid, it names one process, even after pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def kill_pids(processes) -> None:
    """SIGKILL each (pid, start time) still alive: only processes this test session started or forked."""
    for pid, started in processes:
        if alive(pid) and start_time(pid) == started:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def live_workers(stack: EmbeddedStack) -> dict[str, int]:
    return {name: proc.pid for name, proc in stack.processes.items() if name.startswith("worker") and proc.poll() is None}


def worker_of(stack: EmbeddedStack, child: int) -> str:
    """The name of the tracked worker whose prefork child is `child`."""
    parent = parent_pid(child)
    names = [name for name, pid in live_workers(stack).items() if pid == parent]
    assert names, f"pid {child} (parent {parent}) is not a child of a tracked worker: {live_workers(stack)}"
    return names[0]


def run_events(stack: EmbeddedStack, job_id: str, event: str) -> list[int]:
    """PIDs of the run-log lines `<job_id> <event> <pid>` written by the test job types."""
    path = Path(stack.extra_env["BATCHLAB_RUN_LOG"])
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) in (3, 4) and parts[0] == job_id and parts[1] == event:
            out.append(int(parts[2]))
    return out


def run_counts(stack: EmbeddedStack, event: str) -> dict[str, int]:
    """Job id -> number of run-log lines with `event`."""
    path = Path(stack.extra_env["BATCHLAB_RUN_LOG"])
    counts: dict[str, int] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) in (3, 4) and parts[1] == event:
                counts[parts[0]] = counts.get(parts[0], 0) + 1
    return counts


def worker_logs(stack: EmbeddedStack) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(Path(stack.log_dir).glob("worker*.log")))


def sqs(stack: EmbeddedStack):
    return boto3.client("sqs", endpoint_url=stack.sqs_endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def queue_depth(stack: EmbeddedStack, name: str = "batchlab-jobs") -> dict[str, int]:
    client = sqs(stack)
    url = client.get_queue_url(QueueName=name)["QueueUrl"]
    attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return {
        "visible": int(attrs["ApproximateNumberOfMessages"]),
        "in_flight": int(attrs["ApproximateNumberOfMessagesNotVisible"]),
        "delayed": int(attrs["ApproximateNumberOfMessagesDelayed"]),
    }


def publish_duplicate(stack: EmbeddedStack, job_id: str) -> None:
    """Send one more `process_job(job_id)` message, as SQS redelivery or a second publisher would."""
    from batchlab.celery import app

    url = stack.sqs_endpoint.replace("http://", "sqs://testing:testing@")
    with app.connection_for_write(url) as conn:
        app.send_task("jobs.process_job", args=[job_id], connection=conn, queue="jobs")


def run_spans(stack: EmbeddedStack, *, killed_at: dict[int, float] | None = None) -> list[tuple[str, float, float]]:
    """(job id, start, end) of every `countrun` handler run, from the run log's times; a run whose process was
    killed (`killed_at`: pid -> when) ends then."""
    path = Path(stack.extra_env["BATCHLAB_RUN_LOG"])
    open_runs, spans = {}, []
    for line in path.read_text().splitlines() if path.exists() else []:
        parts = line.split()
        if len(parts) != 4 or parts[1] not in ("start", "finish"):
            continue
        job_id, event, pid, at = parts[0], parts[1], int(parts[2]), float(parts[3])
        if event == "start":
            open_runs[(job_id, pid)] = at
        elif (job_id, pid) in open_runs:
            spans.append((job_id, open_runs.pop((job_id, pid)), at))
    for (job_id, pid), start in open_runs.items():
        end = (killed_at or {}).get(pid)
        assert end is not None, f"run of {job_id} in pid {pid} never finished and was not killed"
        spans.append((job_id, start, end))
    return spans
