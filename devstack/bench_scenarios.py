"""The benchmark's scenarios, each run for BatchLab and its baselines (the no-op floor, the peer): drain, submit, steady rate, item job, latency, idle.

Each scenario returns plain dicts of figures; CPU comes from /proc per process
group, AWS requests and units from batchlab.awsmeter's files (one directory per
system). The systems and their processes are devstack.bench_stack's.
"""

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from batchlab import awsmeter
from devstack import bare_app
from devstack.bench_measure import cpu_sample, cpu_seconds, parse_time, percentile
from devstack.bench_stack import SYSTEMS, Bench

PROBES = {"sqs.GetQueueAttributes", "sqs.GetQueueUrl", "sqs.CreateQueue", "sqs.ListQueues"}
SUBMITTED_BY = {"batchlab": "batchlab", "peer": "peer"}  # system -> its submit target (the floor's tasks are sent from here)
WEB_GROUP = {"batchlab": "web", "bare-validate": "bare-web", "peer": "peer-web"}  # submit target -> its server's CPU group
TARGET_SYSTEM = {"batchlab": "batchlab", "bare-validate": "bare", "peer": "peer"}


def _meter_delta(before: dict, after: dict) -> dict:
    return {kind: {k: v - before.get(kind, {}).get(k, 0) for k, v in values.items() if v - before.get(kind, {}).get(k, 0)}
            for kind, values in after.items()}


def _per(values: dict, n: int) -> dict:
    return {k: round(v / n, 3) for k, v in sorted(values.items())} if n else {}


def _send_noop(n: int, clients: int, tag: str) -> None:
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda i: bare_app.app.send_task(bare_app.TASK, args=[f"{tag}-{i}"], queue=bare_app.QUEUE), range(n)))


# --- Scenarios ---------------------------------------------------------------------------------


def fill(bench: Bench, system: str, n: int, clients: int, payload: dict) -> dict | None:
    """Queue n jobs with no worker running: BatchLab and the peer through their POST views (their submit
    figures are returned), the no-op floor through send_task from here."""
    bench.wait_for_ghost_polls(system)
    if system in SUBMITTED_BY:
        figures = submit(bench, SUBMITTED_BY[system], n=n, clients=clients, payload=payload)
        if figures["failed"]:
            raise SystemExit(f"{figures['failed']} of {n} POSTs to {system} failed; see {bench.stack.log_dir}")
        return figures
    _send_noop(n, clients, "bare")
    return None


def drain(bench: Bench, system: str, *, n: int, workers: int, concurrency: int, meter0: dict, keep: bool = False) -> dict:
    """Start the workers on a backlog of n and time them from their first receive until the queue is empty.

    Requests and units per job count from `meter0`, taken before the backlog was queued.
    """
    url = bench.queue_url(system)
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
        bench.stop_workers(names)
    return {
        "system": system, "workers": workers, "concurrency": concurrency, "jobs": n,
        "seconds": round(elapsed, 3), "per_second": round(n / elapsed, 2) if elapsed else None,
        "worker_cpu_ms_per_job": round(1000 * cpu[SYSTEMS[system].group] / n, 3),
        "moto_cpu_ms_per_job": {k: round(1000 * cpu[k] / n, 3) for k in ("moto-sqs", "moto-dynamodb")},
        # The benchmark's own queue-depth probes are not the system's requests.
        "requests_per_job": _per({k: v for k, v in meter.get("requests", {}).items() if k not in PROBES}, n),
        "write_units_per_job": _per(meter.get("write_units", {}), n),
        "read_units_per_job": _per(meter.get("read_units", {}), n),
        "names": names,
    }


def submit(bench: Bench, target: str, *, n: int, clients: int, payload: dict) -> dict:
    """n POSTs from `clients` threads to one endpoint; CPU of the server that answered them."""
    url, system, group = bench.urls[target], TARGET_SYSTEM[target], WEB_GROUP[target]
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


def low_load_latency(bench: Bench, system: str, *, jobs: int, gap: float, payload: dict) -> dict:
    """One job at a time: POST, then poll its GET (BatchLab's with If-None-Match) until done.

    "own" is the system's own record: BatchLab's finished_at - created_at; the peer's date_done - the POST's start.
    """
    done_status = "COMPLETED" if system == "batchlab" else "SUCCESS"
    own, seen = [], []
    for i in range(jobs):
        sent = time.perf_counter()
        post = bench.post(bench.urls[system], {"name": f"latency {i}", "type": "echo", "payload": payload})
        etag, job = None, None
        deadline = time.monotonic() + 30
        while post.ok and time.monotonic() < deadline:
            headers = {"If-None-Match": etag} if etag else {}
            response = bench.session.get(f"{bench.urls[system]}/{post.job_id}", headers=headers, timeout=30)
            if response.status_code == 200:
                etag, job = response.headers.get("ETag"), response.json()
                if job["status"] == done_status:
                    break
            time.sleep(0.01)
        seen.append(time.perf_counter() - sent)
        if job and job.get("finished_at"):
            created = parse_time(job["created_at"]) if system == "batchlab" else post.started
            own.append(parse_time(job["finished_at"]) - created)
        time.sleep(gap)
    return {"system": system, "jobs": jobs, "own_ms_p50": round(1000 * percentile(own, 50), 1),
            "own_ms_p95": round(1000 * percentile(own, 95), 1),
            "seen_ms_p50": round(1000 * percentile(seen, 50), 1), "seen_ms_p95": round(1000 * percentile(seen, 95), 1)}


def batch(bench: Bench, *, items: int, chunk_size: int, workers: int) -> dict:
    """One item job of `items` checksum items with the workers running: items/s, requests and units per item.

    The items go up as an NDJSON file (`POST /jobs/files`), as a user with 10,000 of them
    sends them (inline `items` stop at BATCHLAB_MAX_INLINE_ITEMS, 1,000).
    """
    body = "".join(json.dumps(f"item {i:07d}") + "\n" for i in range(items)).encode()
    meter0, began = bench.meter("batchlab"), time.perf_counter()
    response = bench.session.post(bench.urls["batchlab"] + "/files", data={
        "name": "bench batch", "type": "checksum", "chunk_size": str(chunk_size)}, files={"file": ("items.ndjson", body)}, timeout=300)
    if response.status_code != 201:
        raise SystemExit(f"the item job was refused: {response.status_code} {response.text[:300]}")
    job_id, job = response.json()["id"], {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and job.get("status") not in ("COMPLETED", "FAILED", "CANCELED"):
        time.sleep(0.2)
        job = bench.session.get(f"{bench.urls['batchlab']}/{job_id}", timeout=30).json()
    elapsed = time.perf_counter() - began
    time.sleep(awsmeter.FLUSH_SECONDS + 0.3)
    meter = _meter_delta(meter0, bench.meter("batchlab"))
    # The benchmark's own status polls (GetItem per GET /jobs/{id}) are not the job's.
    requests_ = {k: v for k, v in meter.get("requests", {}).items() if k not in PROBES}
    return {"items": items, "chunk_size": chunk_size, "workers": workers, "status": job.get("status"), "seconds": round(elapsed, 2),
            "items_per_second": round(items / elapsed, 1), "own_items_per_second": (job.get("items") or {}).get("items_per_second"),
            "requests_per_item": _per(requests_, items),
            "write_units_per_item": _per(meter.get("write_units", {}), items),
            "read_units_per_item": _per(meter.get("read_units", {}), items), "status_polls": "included (GetItem)"}


def steady(bench: Bench, system: str, *, rate: float, seconds: float, payload: dict) -> dict:
    """Jobs at a fixed rate with the workers already running; worker CPU per job and the backlog left at the end."""
    n = int(rate * seconds)
    url = bench.queue_url(system)
    groups = bench.groups()
    cpu0, began = cpu_sample(groups), time.perf_counter()
    for i in range(n):
        if system in SUBMITTED_BY:
            bench.post(bench.urls[SUBMITTED_BY[system]], {"name": f"steady {i}", "type": "echo", "payload": payload})
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
            "worker_cpu_ms_per_job": round(1000 * cpu[SYSTEMS[system].group] / n, 3)}


def idle(bench: Bench, *, seconds: float, workers: dict) -> dict:
    """Every system's workers with nothing to do: ReceiveMessage per worker process per minute, and CPU."""
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
        out[system] = {"receives_per_worker_minute": round(receives * 60 / seconds / count, 2),
                       "requests_per_minute": _per({k: v for k, v in delta.get("requests", {}).items() if k not in PROBES}, seconds / 60),
                       "cpu_ms_per_minute": round(1000 * cpu[SYSTEMS[system].group] * 60 / seconds, 1)}
    scheduler = _meter_delta(scheduler0, bench.meter("scheduler"))
    out["scheduler"] = {"requests_per_minute": _per(scheduler.get("requests", {}), seconds / 60),
                        "read_units_per_minute": _per(scheduler.get("read_units", {}), seconds / 60)}
    return out


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
