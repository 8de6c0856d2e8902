"""`make bench`: run the embedded stack, push jobs through the HTTP API, print throughput, latency, CPU and AWS requests per job.

This module starts the stack and drives the clients; bench_measure reads CPU and moto's logs,
bench_report turns the figures into bench.json and the printed table.
"""

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import requests

from devstack.bench_measure import (
    cpu_sample, cpu_seconds, log_size, measure_idle, process_groups, requests_since, self_cpu_seconds,
)
from devstack.bench_report import FINAL, summarize, table
from devstack.launcher import ROOT, EmbeddedStack, free_port

DEFAULT_PORTS = {8000, 5100, 5101}  # `make run` owns these; the benchmark never touches them
IDS_PER_POLL = 100  # the API's limit for GET /jobs?ids=


# --- The run --------------------------------------------------------------------------


def wait_for_workers(stack: EmbeddedStack, timeout: float = 90) -> None:
    """Block until every Celery worker logged "ready." (stack.start() does not wait for it)."""
    logs = [stack.log_dir / f"{name}.log" for name in stack.processes if name.startswith("worker")]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(log.exists() and " ready." in log.read_text(errors="replace") for log in logs):
            return
        time.sleep(0.2)
    raise TimeoutError(f"the Celery workers were not ready within {timeout:.0f} s; see {stack.log_dir}")


@dataclass
class Submission:
    index: int
    started: float  # time.time() when the POST was sent
    seconds: float
    status_code: int | None
    job_id: str | None
    error: str | None = None


class Client:
    """requests sessions (one per thread) as user demo: Basic auth demo:demo, or its API token."""

    def __init__(self, base: str, token: str | None = None):
        self.base = base
        self.token = token
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            session = requests.Session()
            if self.token:
                session.headers["Authorization"] = f"Token {self.token}"
            else:
                session.auth = ("demo", "demo")
            self._local.session = session
        return self._local.session

    def submit(self, index: int, job_type: str, payload: dict) -> Submission:
        body = {"name": f"bench {index}", "type": job_type, "payload": payload}
        started, clock = time.time(), time.perf_counter()
        try:
            response = self.session.post(f"{self.base}/jobs", json=body, timeout=30)
        except requests.RequestException as exc:
            return Submission(index, started, time.perf_counter() - clock, None, None, f"{exc.__class__.__name__}: {exc}")
        seconds = time.perf_counter() - clock
        if response.status_code != 201:
            return Submission(index, started, seconds, response.status_code, None, response.text[:200])
        return Submission(index, started, seconds, 201, response.json()["id"])

    def jobs(self, ids: list[str]) -> list[dict]:
        response = self.session.get(f"{self.base}/jobs", params={"ids": ",".join(ids)}, timeout=30)
        response.raise_for_status()
        return response.json()["results"]

    def example_payload(self, job_type: str) -> dict:
        response = self.session.get(f"{self.base}/job-types", timeout=30)
        response.raise_for_status()
        for known in response.json()["results"]:
            if known["name"] == job_type:
                return known["example"]
        raise SystemExit(f"unknown job type {job_type!r}")


def poll_until_final(client: Client, ids: list[str], *, deadline: float, interval: float) -> tuple[dict, dict, int]:
    """Poll GET /jobs?ids= until every job is final or the deadline passes.

    Each round asks for the oldest 100 unfinished ids only: jobs finish roughly in
    submission order, and every poll costs the web server a request (with Basic
    auth a password hash) that competes with the stack for the CPUs. So the time a
    job is first seen final is exact to one interval for the last jobs (which end
    the run) and may be late for earlier ones; latencies come from the API's own
    timestamps instead.
    Returns (final job by id, time.time() each was first seen final, number of GET requests).
    """
    final, seen_at, gets = {}, {}, 0
    pending = list(ids)
    while pending and time.time() < deadline:
        batch = pending[:IDS_PER_POLL]
        gets += 1
        try:
            found = client.jobs(batch)
        except requests.RequestException as exc:
            print(f"poll failed ({exc.__class__.__name__}); retrying", file=sys.stderr, flush=True)
            found = []
        now = time.time()
        newly_final = {job["id"]: job for job in found if job["status"] in FINAL}
        final.update(newly_final)
        seen_at.update(dict.fromkeys(newly_final, now))
        pending = [i for i in pending if i not in final]
        if pending and len(newly_final) < len(batch):
            time.sleep(interval)  # else the whole batch was final: look at the next one at once
    return final, seen_at, gets


def warm_up(client: Client, args, payload: dict) -> None:
    """Run a few jobs first, not counted: the first requests of each web worker thread and of
    each worker process pay one-time costs (lazy imports, AWS clients and connections)."""
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        warm = list(pool.map(lambda i: client.submit(i, args.type, payload), range(args.warmup)))
    ids = [s.job_id for s in warm if s.job_id]
    final, _, _ = poll_until_final(client, ids, deadline=time.time() + args.timeout, interval=args.poll_interval)
    if len(final) < len(ids) or len(ids) < len(warm):
        raise SystemExit(f"warm-up failed: {len(ids)}/{len(warm)} submitted, {len(final)} final; see the logs")


def run(args, stack: EmbeddedStack) -> dict:
    token = stack.manage("batchlab_token", "demo").strip() if args.auth == "token" else None
    client = Client(stack.web_url, token)
    payload = json.loads(args.payload) if args.payload is not None else client.example_payload(args.type)
    if args.warmup:
        warm_up(client, args, payload)
    idle = measure_idle(stack, args.idle_seconds) if args.idle_seconds > 0 else None

    logs = {svc: stack.log_dir / f"moto-{svc}.log" for svc in ("sqs", "dynamodb")}
    groups = process_groups(stack)
    offsets = {svc: log_size(path) for svc, path in logs.items()}
    cpu_before, self_before, load_before = cpu_sample(groups), self_cpu_seconds(), os.getloadavg()[0]
    began = time.time()
    deadline = began + args.timeout

    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        submissions = list(pool.map(lambda i: client.submit(i, args.type, payload), range(args.jobs)))
    submitted_at = time.time()
    ids = [s.job_id for s in submissions if s.job_id]
    final, seen_at, gets = poll_until_final(client, ids, deadline=deadline, interval=args.poll_interval)
    ended = max(seen_at.values()) if seen_at else time.time()

    cpu_after, self_after, load_after = cpu_sample(groups), self_cpu_seconds(), os.getloadavg()[0]
    time.sleep(0.5)  # let the moto servers flush their last access lines
    aws = {svc: requests_since(path, offsets[svc]) for svc, path in logs.items()}
    return summarize(
        args=args, payload=payload, submissions=submissions, final=final, gets=gets,
        began=began, submitted_at=submitted_at, ended=ended, aws=aws, idle=idle,
        cpu=cpu_seconds(cpu_before, cpu_after), bench_cpu=self_after - self_before, load=(load_before, load_after),
    )


# --- Command line ----------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devstack.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=500, help="jobs to submit (default 500)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP submitters (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="celery worker processes (default 2)")
    parser.add_argument("--concurrency", type=int, help="prefork children per worker (BATCHLAB_WORKER_CONCURRENCY; default 1)")
    parser.add_argument("--auth", choices=("basic", "token"), default="token",
                        help="token: demo's API token (default, as a script would); basic: demo:demo on every request (each one hashes the password)")
    parser.add_argument("--type", default="echo", help="job type (default echo)")
    parser.add_argument("--payload", help="job payload as JSON (default: the type's example from /job-types)")
    parser.add_argument("--warmup", type=int, default=20, help="jobs run (and waited for) before measuring; not counted (default 20)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds from the first POST until unfinished jobs count as lost")
    parser.add_argument("--poll-interval", type=float, default=1.0, help="seconds between status polls (default 1)")
    parser.add_argument("--idle-seconds", type=float, default=0,
                        help="first measure the idle stack's AWS requests for this long (default 0: skip; >= 40 to see long polls)")
    return parser.parse_args(argv)


def _free_port() -> int:
    while (port := free_port()) in DEFAULT_PORTS:
        pass
    return port


def main(argv=None) -> int:
    args = parse_args(argv)
    run_dir = ROOT / "var" / "bench" / datetime.now().strftime("%Y%m%d-%H%M%S")
    extra_env = {"BATCHLAB_SQLITE_PATH": str(run_dir / "db.sqlite3")}
    if args.concurrency:
        extra_env["BATCHLAB_WORKER_CONCURRENCY"] = str(args.concurrency)
    stack = EmbeddedStack(
        web_port=_free_port(), sqs_port=_free_port(), dynamodb_port=_free_port(),
        workers=args.workers, recovery=False, web=True, demo_users=True, quiet=True,
        log_dir=run_dir / "log", extra_env=extra_env,
    )
    print(f"Starting the embedded stack (logs in {stack.log_dir})...", flush=True)
    try:
        stack.start()
        wait_for_workers(stack)
        print(f"Submitting {args.jobs} {args.type} jobs to {stack.web_url} with {args.clients} clients...", flush=True)
        result = run(args, stack)
    finally:
        stack.stop()
    out = run_dir / "bench.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result), flush=True)
    print(f"\nFigures written to {out}", flush=True)
    return 0 if result["lost"] == 0 and result["submit_errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
