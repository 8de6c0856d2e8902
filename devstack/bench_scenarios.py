"""The benchmark's scenarios, each run for BatchLab and for its bare baseline: drain, submit, steady rate, latency, idle.

A `Bench` holds the running stack (BatchLab's web, no workers yet), the bare DRF
server and the clients. Each scenario returns plain dicts of figures; CPU comes
from /proc per process group, AWS requests and units from batchlab.awsmeter's
files (one directory per system).
"""

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import requests

from batchlab import awsmeter
from devstack import bare_app, bare_names
from devstack.bench_measure import cpu_sample, cpu_seconds, parse_time, percentile
from devstack.launcher import BIN, EmbeddedStack, wait_for_port

PROBES = {"sqs.GetQueueAttributes", "sqs.GetQueueUrl", "sqs.CreateQueue", "sqs.ListQueues"}
GHOST_POLL_SECONDS = 21  # a stopped worker's last long poll may still take a message this long (moto)


@dataclass
class Post:
    started: float
    seconds: float
    ok: bool
    job_id: str | None


@dataclass
class Bench:
    stack: EmbeddedStack
    token: str
    bare_url: str
    meter_dirs: dict  # system -> directory of its processes' meter files
    stopped_at: dict = field(default_factory=dict)  # system -> time.monotonic() its last drain ended
    _local: threading.local = field(default_factory=threading.local)

    # -- HTTP ---------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["Authorization"] = f"Token {self.token}"
        return self._local.session

    def post(self, url: str, body: dict) -> Post:
        started, clock = time.time(), time.perf_counter()
        try:
            response = self.session.post(url, json=body, timeout=30)
        except requests.RequestException:
            return Post(started, time.perf_counter() - clock, False, None)
        ok = response.status_code == 201
        return Post(started, time.perf_counter() - clock, ok, response.json().get("id") if ok else None)

    def post_many(self, url: str, n: int, clients: int, payload: dict) -> list[Post]:
        body = lambda i: {"name": f"bench {i}", "type": "echo", "payload": payload}  # noqa: E731
        with ThreadPoolExecutor(max_workers=clients) as pool:
            return list(pool.map(lambda i: self.post(url, body(i)), range(n)))

    # -- AWS ------------------------------------------------------------------------

    def sqs(self):
        if not hasattr(self, "_sqs"):
            self._sqs = boto3.client("sqs", endpoint_url=self.stack.sqs_endpoint, region_name="us-east-1",
                                     aws_access_key_id="testing", aws_secret_access_key="testing")
        return self._sqs

    def queue_url(self, name: str) -> str:
        return self.sqs().get_queue_url(QueueName=f"batchlab-{name}" if name != bare_names.DRF_QUEUE else name)["QueueUrl"]

    def queue_depth(self, url: str) -> int:
        attrs = self.sqs().get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def meter(self, system: str) -> dict:
        return awsmeter.totals_read(self.meter_dirs[system])

    # -- processes --------------------------------------------------------------------

    def groups(self) -> dict[str, list[int]]:
        names = self.stack.processes
        pick = lambda prefix: [p.pid for n, p in names.items() if n.startswith(prefix)]  # noqa: E731
        return {"web": pick("web"), "bare-web": pick("bare-web"), "workers": pick("worker"),
                "bare-workers": pick("bare-worker"), "moto-sqs": pick("moto-sqs"), "moto-dynamodb": pick("moto-dynamodb")}

    def start_workers(self, system: str, workers: int, concurrency: int) -> list[str]:
        env = self.stack.env() | {"BATCHLAB_WORKER_CONCURRENCY": str(concurrency)}
        names = []
        # Worker logs are appended to: look for "ready." only past their current end.
        offsets = {p.name: p.stat().st_size for p in self.stack.log_dir.glob("*worker*.log")}
        for index in range(1, workers + 1):
            if system == "batchlab":
                self.stack.extra_env["BATCHLAB_WORKER_CONCURRENCY"] = str(concurrency)
                proc = self.stack.start_worker()
                names.append(next(n for n, p in self.stack.processes.items() if p is proc))
            else:
                name = f"bare-worker{index}"
                bare_env = {k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"}
                bare_env["BATCHLAB_AWS_METER_DIR"] = str(self.meter_dirs["bare"])
                self.stack._spawn(name, [str(BIN / "celery"), "-A", "devstack.bare_app", "worker", "--loglevel", "INFO",
                                         "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle"], env=bare_env)
                names.append(name)
        wait_ready(self.stack, names, offsets)
        return names

    def stop_workers(self, system: str, names: list[str]) -> None:
        for name in names:
            self.stack.stop_process(name, grace=25)

    def wait_for_ghost_polls(self, system: str) -> None:
        """moto keeps a stopped worker's long poll open up to 20 s and would hand it the next message
        (invisible for the visibility timeout): queue nothing for a system until its workers' last
        polls, begun at the end of its drain at the latest, have run out."""
        since = time.monotonic() - self.stopped_at.get(system, -1e9)
        if since < GHOST_POLL_SECONDS:
            time.sleep(GHOST_POLL_SECONDS - since)


def wait_ready(stack: EmbeddedStack, names: list[str], offsets: dict, timeout: float = 90) -> None:
    logs = [stack.log_dir / f"{name}.log" for name in names]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(log.exists() and " ready." in log.read_text(errors="replace")[offsets.get(log.name, 0):] for log in logs):
            return
        time.sleep(0.1)
    raise TimeoutError(f"workers {names} not ready within {timeout:.0f} s; see {stack.log_dir}")


def _meter_delta(before: dict, after: dict) -> dict:
    return {kind: {k: v - before.get(kind, {}).get(k, 0) for k, v in values.items() if v - before.get(kind, {}).get(k, 0)}
            for kind, values in after.items()}


def _per(values: dict, n: int) -> dict:
    return {k: round(v / n, 3) for k, v in sorted(values.items())} if n else {}


# --- Scenarios ---------------------------------------------------------------------------------


def fill(bench: Bench, system: str, n: int, clients: int, payload: dict) -> dict | None:
    """Queue n jobs with no worker running: BatchLab through POST /jobs (its submit figures
    are returned), bare through send_task from here."""
    bench.wait_for_ghost_polls(system)
    if system == "batchlab":
        # The first round's requests and units count the already queued jobs' POSTs only by
        # their number: per job they are the same requests.
        figures = submit(bench, "batchlab", n=n, clients=clients, payload=payload)
        if figures["failed"]:
            raise SystemExit(f"{figures['failed']} of {n} POSTs failed; see {bench.stack.log_dir}")
        return figures
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda i: bare_app.app.send_task(bare_app.TASK, args=[f"bare-{i}"], queue=bare_app.QUEUE), range(n)))
    return None


def drain(bench: Bench, system: str, *, n: int, workers: int, concurrency: int, meter0: dict, keep: bool = False) -> dict:
    """Start the workers on a backlog of n and time them from their first receive until the queue is empty.

    Requests and units per job count from `meter0`, taken before the backlog was queued.
    """
    url = bench.queue_url("jobs" if system == "batchlab" else bare_app.QUEUE)
    names = bench.start_workers(system, workers, concurrency)
    groups = bench.groups()
    cpu0, began = cpu_sample(groups), None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        depth = bench.queue_depth(url)
        if began is None and depth < n:
            # The first receive made a message invisible... or a few already completed.
            began, cpu0 = time.perf_counter(), cpu_sample(groups)
        elif began is None:
            # Nothing received yet: the workers' CPU so far is start-up, not work.
            cpu0 = cpu_sample(groups)
        if depth == 0:
            break
        time.sleep(0.05)
    else:
        raise SystemExit(f"{system} did not drain {n} jobs within 600 s; see {bench.stack.log_dir}")
    elapsed = time.perf_counter() - (began or time.perf_counter())
    cpu = cpu_seconds(cpu0, cpu_sample(groups))
    # The workers' long polls started from here on may outlive them (see wait_for_ghost_polls).
    bench.stopped_at[system] = time.monotonic()
    time.sleep(awsmeter.FLUSH_SECONDS + 0.3)
    meter = _meter_delta(meter0, bench.meter(system))
    if not keep:
        bench.stop_workers(system, names)
    worker_group = "workers" if system == "batchlab" else "bare-workers"
    return {
        "system": system, "workers": workers, "concurrency": concurrency, "jobs": n,
        "seconds": round(elapsed, 3), "per_second": round(n / elapsed, 2) if elapsed else None,
        "worker_cpu_ms_per_job": round(1000 * cpu[worker_group] / n, 3),
        "moto_cpu_ms_per_job": {k: round(1000 * cpu[k] / n, 3) for k in ("moto-sqs", "moto-dynamodb")},
        # The benchmark's own queue-depth probes are not the system's requests.
        "requests_per_job": _per({k: v for k, v in meter.get("requests", {}).items() if k not in PROBES}, n),
        "write_units_per_job": _per(meter.get("write_units", {}), n),
        "read_units_per_job": _per(meter.get("read_units", {}), n),
        "names": names,
    }


def submit(bench: Bench, target: str, *, n: int, clients: int, payload: dict) -> dict:
    """n POSTs from `clients` threads to one endpoint; CPU of the server that answered them."""
    url = {"batchlab": f"{bench.stack.web_url}/jobs", "bare-validate": f"{bench.bare_url}/bare/validate",
           "bare-store": f"{bench.bare_url}/bare/store"}[target]
    system = "batchlab" if target == "batchlab" else "bare"
    group = "web" if target == "batchlab" else "bare-web"
    groups = bench.groups()
    meter0, cpu0, began = bench.meter(system), cpu_sample(groups), time.perf_counter()
    posts = bench.post_many(url, n, clients, payload)
    elapsed = time.perf_counter() - began
    cpu = cpu_seconds(cpu0, cpu_sample(groups))
    time.sleep(awsmeter.FLUSH_SECONDS + 0.3)
    meter = _meter_delta(meter0, bench.meter(system))
    ok = [p for p in posts if p.ok]
    if not ok:
        raise SystemExit(f"every POST to {url} failed; see {bench.stack.log_dir}")
    return {
        "target": target, "posts": n, "clients": clients, "failed": n - len(ok),
        "per_second": round(len(ok) / elapsed, 2), "latency_ms_p50": round(1000 * percentile([p.seconds for p in ok], 50), 2),
        "web_cpu_ms_per_post": round(1000 * cpu[group] / max(1, len(ok)), 3),
        "requests_per_post": _per({k: v for k, v in meter.get("requests", {}).items() if k not in PROBES}, max(1, len(ok))),
    }


def low_load_latency(bench: Bench, *, jobs: int, gap: float, payload: dict) -> dict:
    """One job at a time: POST, then poll GET /jobs/{id} (If-None-Match) until COMPLETED."""
    own, seen = [], []
    for i in range(jobs):
        sent = time.perf_counter()
        post = bench.post(f"{bench.stack.web_url}/jobs", {"name": f"latency {i}", "type": "echo", "payload": payload})
        etag, job = None, None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            headers = {"If-None-Match": etag} if etag else {}
            response = bench.session.get(f"{bench.stack.web_url}/jobs/{post.job_id}", headers=headers, timeout=30)
            if response.status_code == 200:
                etag, job = response.headers.get("ETag"), response.json()
                if job["status"] == "COMPLETED":
                    break
            time.sleep(0.01)
        seen.append(time.perf_counter() - sent)
        if job and job.get("finished_at"):
            own.append(parse_time(job["finished_at"]) - parse_time(job["created_at"]))
        time.sleep(gap)
    return {"jobs": jobs, "own_ms_p50": round(1000 * percentile(own, 50), 1), "own_ms_p95": round(1000 * percentile(own, 95), 1),
            "seen_ms_p50": round(1000 * percentile(seen, 50), 1), "seen_ms_p95": round(1000 * percentile(seen, 95), 1)}


def batch(bench: Bench, *, items: int, chunk_size: int) -> dict:
    """One item job of `items` checksum items with the workers running: items/s, requests and units per item."""
    meter0, began = bench.meter("batchlab"), time.perf_counter()
    response = bench.session.post(f"{bench.stack.web_url}/jobs", json={
        "name": "bench batch", "type": "checksum", "items": [f"item {i}" for i in range(items)], "chunk_size": chunk_size,
    }, timeout=60)
    if response.status_code != 201:
        raise SystemExit(f"the item job was refused: {response.status_code} {response.text[:300]}")
    job_id, job = response.json()["id"], {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and job.get("status") not in ("COMPLETED", "FAILED", "CANCELED"):
        time.sleep(0.2)
        job = bench.session.get(f"{bench.stack.web_url}/jobs/{job_id}", timeout=30).json()
    elapsed = time.perf_counter() - began
    time.sleep(awsmeter.FLUSH_SECONDS + 0.3)
    meter = _meter_delta(meter0, bench.meter("batchlab"))
    # The benchmark's own status polls (GetItem per GET /jobs/{id}) are not the job's.
    requests_ = {k: v for k, v in meter.get("requests", {}).items() if k not in PROBES}
    return {"items": items, "chunk_size": chunk_size, "status": job.get("status"), "seconds": round(elapsed, 2),
            "items_per_second": round(items / elapsed, 1), "requests_per_item": _per(requests_, items),
            "write_units_per_item": _per(meter.get("write_units", {}), items),
            "read_units_per_item": _per(meter.get("read_units", {}), items), "status_polls": "included (GetItem)"}


def steady(bench: Bench, system: str, *, rate: float, seconds: float, payload: dict) -> dict:
    """Jobs at a fixed rate with the workers already running; worker CPU per job and the backlog left at the end."""
    n = int(rate * seconds)
    group = "workers" if system == "batchlab" else "bare-workers"
    url = bench.queue_url("jobs" if system == "batchlab" else bare_app.QUEUE)
    groups = bench.groups()
    cpu0, began = cpu_sample(groups), time.perf_counter()
    for i in range(n):
        if system == "batchlab":
            bench.post(f"{bench.stack.web_url}/jobs", {"name": f"steady {i}", "type": "echo", "payload": payload})
        else:
            bare_app.app.send_task(bare_app.TASK, args=[f"steady-{i}"], queue=bare_app.QUEUE)
        pause = began + (i + 1) / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    backlog = bench.queue_depth(url)
    deadline = time.monotonic() + 60
    while bench.queue_depth(url) and time.monotonic() < deadline:
        time.sleep(0.05)
    cpu = cpu_seconds(cpu0, cpu_sample(groups))
    return {"system": system, "rate": rate, "jobs": n, "backlog_at_end": backlog,
            "worker_cpu_ms_per_job": round(1000 * cpu[group] / n, 3)}


def idle(bench: Bench, *, seconds: float, workers: dict) -> dict:
    """Both systems' workers with nothing to do: ReceiveMessage per worker process per minute, and CPU."""
    groups = bench.groups()
    meters0 = {s: bench.meter(s) for s in workers}
    scheduler0 = bench.meter("scheduler")
    cpu0 = cpu_sample(groups)
    time.sleep(seconds)
    cpu = cpu_seconds(cpu0, cpu_sample(groups))
    time.sleep(awsmeter.FLUSH_SECONDS + 0.3)
    out = {}
    for system, count in workers.items():
        delta = _meter_delta(meters0[system], bench.meter(system))
        receives = delta.get("requests", {}).get("sqs.ReceiveMessage", 0)
        group = "workers" if system == "batchlab" else "bare-workers"
        out[system] = {"receives_per_worker_minute": round(receives * 60 / seconds / count, 2),
                       "requests_per_minute": _per(delta.get("requests", {}), seconds / 60),
                       "cpu_ms_per_minute": round(1000 * cpu[group] * 60 / seconds, 1)}
    scheduler = _meter_delta(scheduler0, bench.meter("scheduler"))
    out["scheduler"] = {"requests_per_minute": _per(scheduler.get("requests", {}), seconds / 60),
                        "read_units_per_minute": _per(scheduler.get("read_units", {}), seconds / 60)}
    return out


def start_bare_web(stack: EmbeddedStack, port: int, meter_dir: Path) -> str:
    env = stack.env() | {"DJANGO_SETTINGS_MODULE": "devstack.bare_settings", "BATCHLAB_AWS_METER_DIR": str(meter_dir)}
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.dynamodb_endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    dynamodb.create_table(TableName=bare_names.DRF_TABLE, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "JobId", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "JobId", "KeyType": "HASH"}])
    boto3.client("sqs", endpoint_url=stack.sqs_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_queue(QueueName=bare_names.DRF_QUEUE)
    proc = stack._spawn("bare-web", [str(BIN / "gunicorn"), "batchlab.wsgi:application",
                                     "--bind", f"{stack.host}:{port}", "--workers", "2", "--threads", "8", "--timeout", "60"], env=env)
    wait_for_port(stack.host, port, timeout=60, proc=proc, name="bare web server")
    return f"http://{stack.host}:{port}"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

