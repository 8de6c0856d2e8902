"""`make bench`: run the embedded stack, push jobs through the HTTP API, print throughput, latency, CPU and AWS requests per job."""

import argparse
import json
import os
import re
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import requests

from devstack.launcher import ROOT, EmbeddedStack, free_port

FINAL = ("COMPLETED", "FAILED", "CANCELED")
DEFAULT_PORTS = {8000, 5100, 5101}  # `make run` owns these; the benchmark never touches them
IDS_PER_POLL = 100  # the API's limit for GET /jobs?ids=
LONG_POLL_SECONDS = 20  # the SQS wait time the workers use (batchlab/celery.py)
CLK_TCK = os.sysconf("SC_CLK_TCK")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# werkzeug's access line: 127.0.0.1 - - [23/Nov/2026 16:51:45] "POST / HTTP/1.1" 200 -
REQUEST_LINE = re.compile(r'^\S+ - - \[[^\]]*\] "[A-Z]+ \S+ HTTP/[\d.]+" \d{3} ', re.MULTILINE)


# --- Pure helpers -------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (0..100) with linear interpolation between ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def count_request_lines(text: str) -> int:
    """How many HTTP requests a moto (werkzeug) log text records: one access line per request."""
    return len(REQUEST_LINE.findall(ANSI.sub("", text)))


def parse_time(value: str | None) -> float | None:
    """An API timestamp ("2026-11-23T16:51:45.123456Z") as seconds since the epoch."""
    return datetime.fromisoformat(value).timestamp() if value else None


def idle_gap_seconds(busy: list[tuple[float, float]], start: float, end: float) -> list[float]:
    """The lengths of the parts of [start, end] that no (begin, finish) interval covers."""
    gaps, cursor = [], start
    for begin, finish in sorted(busy):
        if begin > cursor:
            gaps.append(min(begin, end) - cursor)
        cursor = max(cursor, finish)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append(end - cursor)
    return [g for g in gaps if g > 0]


# --- Reading processes and logs (I/O) -------------------------------------------------


def process_table() -> dict[int, tuple[int, int, int]]:
    """Every process now: pid -> (ppid, start time, utime + stime in clock ticks), from /proc/<pid>/stat."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                # The command name may hold spaces and parentheses: split after its last ")".
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        table[int(entry.name)] = (int(fields[1]), int(fields[19]), int(fields[11]) + int(fields[12]))
    return table


def group_cpu_ticks(table: dict, roots: list[int]) -> dict[tuple[int, int], int]:
    """CPU ticks of each live process in the trees under `roots`, keyed by (pid, start time)."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    ticks, todo = {}, [r for r in roots if r in table]
    while todo:
        pid = todo.pop()
        _, started, cpu = table[pid]
        ticks[(pid, started)] = cpu
        todo.extend(children.get(pid, []))
    return ticks


def process_groups(stack: EmbeddedStack) -> dict[str, list[int]]:
    names = stack.processes
    return {
        "web": [names["web"].pid],
        "workers": [p.pid for n, p in names.items() if n.startswith("worker")],
        "moto-sqs": [names["moto-sqs"].pid],
        "moto-dynamodb": [names["moto-dynamodb"].pid],
    }


def cpu_sample(groups: dict[str, list[int]]) -> dict[str, dict]:
    table = process_table()
    return {name: group_cpu_ticks(table, roots) for name, roots in groups.items()}


def cpu_seconds(before: dict, after: dict) -> dict[str, float]:
    """CPU used between two samples per group; a process that exited in between is not counted."""
    used = {}
    for name, now in after.items():
        ticks = sum(cpu - before[name].get(key, 0) for key, cpu in now.items())
        used[name] = ticks / CLK_TCK
    return used


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def log_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def requests_since(path: Path, offset: int) -> int:
    """Moto request lines written to `path` after byte `offset`."""
    with open(path, "rb") as log:
        log.seek(offset)
        return count_request_lines(log.read().decode("utf-8", "replace"))


def wait_for_workers(stack: EmbeddedStack, timeout: float = 90) -> None:
    """Block until every Celery worker logged "ready." (stack.start() does not wait for it)."""
    logs = [stack.log_dir / f"{name}.log" for name in stack.processes if name.startswith("worker")]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(log.exists() and " ready." in log.read_text(errors="replace") for log in logs):
            return
        time.sleep(0.2)
    raise TimeoutError(f"the Celery workers were not ready within {timeout:.0f} s; see {stack.log_dir}")


# --- The run --------------------------------------------------------------------------


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


def measure_idle(stack: EmbeddedStack, seconds: float) -> dict:
    """SQS and DynamoDB requests per second with no jobs in flight: the stack's idle cost."""
    logs = {svc: stack.log_dir / f"moto-{svc}.log" for svc in ("sqs", "dynamodb")}
    offsets = {svc: log_size(path) for svc, path in logs.items()}
    time.sleep(seconds)
    return {svc: requests_since(path, offsets[svc]) / seconds for svc, path in logs.items()}


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


def _round(value, digits=4):
    return None if value is None else round(value, digits)


def summarize(*, args, payload, submissions, final, gets, began, submitted_at, ended, aws, idle, cpu, bench_cpu, load) -> dict:
    jobs = [s for s in submissions if s.job_id]
    n = len(jobs) or 1
    post_ms = [s.seconds * 1000 for s in submissions if s.job_id]
    waits, e2e, busy, per_job = [], [], [], []
    for sub in jobs:
        job = final.get(sub.job_id, {})
        created, started, finished = (parse_time(job.get(k)) for k in ("created_at", "started_at", "finished_at"))
        if created and started:
            waits.append(started - created)
            busy.append((created, started))
        if created and finished:
            e2e.append(finished - created)
        per_job.append({
            "id": sub.job_id, "status": job.get("status"), "post_sent": _round(sub.started - began, 3),
            "post_ms": _round(sub.seconds * 1000, 1),
            "queue_wait": _round(started - created if created and started else None, 3),
            "end_to_end": _round(finished - created if created and finished else None, 3),
        })
    statuses = {s: sum(1 for j in final.values() if j["status"] == s) for s in FINAL}
    elapsed = ended - began
    result = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "config": {"jobs": args.jobs, "warmup_jobs": args.warmup, "clients": args.clients, "workers": args.workers,
                   "concurrency": args.concurrency, "auth": args.auth, "type": args.type, "payload": payload,
                   "timeout": args.timeout, "poll_interval": args.poll_interval, "cpus": os.cpu_count()},
        # The machine's 1-minute load average at the start and end: other processes compete for the CPUs.
        "load_average_1m": {"before": round(load[0], 2), "after": round(load[1], 2)},
        "elapsed_seconds": _round(elapsed, 3),
        "submit_seconds": _round(submitted_at - began, 3),
        "throughput_jobs_per_second": _round(len(final) / elapsed if elapsed > 0 else None, 2),
        "post_latency_ms": {f"p{p}": _round(percentile(post_ms, p), 1) for p in (50, 95, 99)},
        "end_to_end_seconds": {f"p{p}": _round(percentile(e2e, p), 3) for p in (50, 95, 99)},
        "queue_wait_seconds": {f"p{p}": _round(percentile(waits, p), 3) for p in (50, 95)},
        "statuses": statuses,
        "lost": len(jobs) - len(final),
        "submit_errors": len(submissions) - len(jobs),
        "submit_error_samples": [s.error for s in submissions if s.error][:3],
        "cpu_seconds_per_job": {name: _round(sec / n) for name, sec in cpu.items()} | {"bench client": _round(bench_cpu / n)},
        "cpu_seconds_total": {name: _round(sec, 2) for name, sec in cpu.items()} | {"bench client": _round(bench_cpu, 2)},
        "aws_requests_total": aws,
        "aws_requests_per_job": {svc: _round(count / n, 2) for svc, count in aws.items()},
        # Each GET /jobs?ids= of the benchmark's own polling is one BatchGetItem on DynamoDB.
        "bench_poll_requests": gets,
        "dynamodb_requests_per_job_without_bench_polls": _round((aws["dynamodb"] - gets) / n, 2),
        "per_job": per_job,  # post_sent: seconds after the first POST; the others in seconds unless named
    }
    if idle is not None:
        # Only a long poll that waits its full 20 s comes back empty; a queue-empty gap of g
        # seconds costs about floor(g / 20) of them per consumer, i.e. idle rate x 20 s each.
        gaps = idle_gap_seconds(busy, began, ended)
        idle_window = sum(LONG_POLL_SECONDS * int(g // LONG_POLL_SECONDS) for g in gaps)
        result["idle"] = {
            "seconds_measured": args.idle_seconds,
            "requests_per_second": {svc: _round(rate, 3) for svc, rate in idle.items()},
            "queue_empty_seconds_in_run": _round(sum(gaps), 2),
            "sqs_idle_long_polls_in_run_estimate": _round(idle["sqs"] * idle_window, 1),
        }
    return result


# --- Output --------------------------------------------------------------------------


def _fmt(value, unit="") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def table(r: dict) -> str:
    c = r["config"]
    cpu = r["cpu_seconds_per_job"]
    rows = [
        f"BatchLab benchmark: {c['jobs']} {c['type']} jobs, {c['clients']} HTTP clients ({c['auth']} auth), "
        f"{c['workers']} workers x {c['concurrency'] or 1}, {c['cpus']} CPUs (embedded stack: moto stands in for AWS)",
        f"  machine load (1 min)  {r['load_average_1m']['before']:g} at the start, {r['load_average_1m']['after']:g} at the end "
        f"(other processes share the CPUs)",
        f"  throughput            {_fmt(r['throughput_jobs_per_second'])} jobs/s "
        f"({sum(r['statuses'].values())} final in {r['elapsed_seconds']:.1f} s from the first POST; "
        f"POSTs took {r['submit_seconds']:.1f} s)",
        "  POST latency (ms)     " + "  ".join(f"{k} {_fmt(v)}" for k, v in r["post_latency_ms"].items()),
        "  end to end (s)        " + "  ".join(f"{k} {_fmt(v)}" for k, v in r["end_to_end_seconds"].items()),
        "  queue wait (s)        " + "  ".join(f"{k} {_fmt(v)}" for k, v in r["queue_wait_seconds"].items()),
        "  final status          " + "  ".join(f"{k} {v}" for k, v in r["statuses"].items())
        + f"  lost {r['lost']}  submit errors {r['submit_errors']}",
        "  CPU s per job         " + "  ".join(f"{k} {_fmt(v)}" for k, v in cpu.items()),
        "                        (web includes the benchmark's status polls; live processes only: "
        "children that exited during the run are not counted)",
        f"  AWS requests per job  SQS {_fmt(r['aws_requests_per_job']['sqs'])}  "
        f"DynamoDB {_fmt(r['aws_requests_per_job']['dynamodb'])} "
        f"({_fmt(r['dynamodb_requests_per_job_without_bench_polls'])} without the benchmark's "
        f"{r['bench_poll_requests']} status polls)",
    ]
    if "idle" in r:
        idle = r["idle"]
        rows.append(
            f"  idle (no jobs)        SQS {_fmt(idle['requests_per_second']['sqs'])} req/s  "
            f"DynamoDB {_fmt(idle['requests_per_second']['dynamodb'])} req/s over {idle['seconds_measured']:g} s; "
            f"~{_fmt(idle['sqs_idle_long_polls_in_run_estimate'])} empty SQS long polls in the run "
            f"(queue empty {_fmt(idle['queue_empty_seconds_in_run'])} s)"
        )
    return "\n".join(rows)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devstack.bench", description=__doc__)
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
