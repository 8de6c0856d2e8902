"""`make bench-webhooks`: what webhooks cost per job and how fast they arrive, on the embedded stack with a receiver on 127.0.0.1.

1. cost: N echo jobs with no endpoint, then N with one endpoint subscribed to
   job.completed (a receiver answering 200 at once); the AWS requests and
   DynamoDB write units of every process (batchlab/awsmeter.py), per job, and the
   difference: what one subscribed event adds.
2. latency: jobs one at a time; from the job's final write (its finished_at) to
   the receiver's answer, p50 and p95.
3. throughput: M jobs drained by one worker with no endpoint, then with an
   endpoint that sleeps S seconds per request: jobs/s of each.
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from devstack.bench_measure import percentile
from devstack.launcher import ROOT, EmbeddedStack, free_port


class Receiver:
    def __init__(self, delay: float = 0.0):
        self.delay, self.arrivals = delay, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.arrivals.append((time.time(), json.loads(body)))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def meter(directory: Path) -> dict:
    total = {"requests": 0, "write_units": 0.0, "read_units": 0.0, "by_operation": {}}
    for path in directory.glob("*.json"):
        data = json.loads(path.read_text())
        for op, n in data["requests"].items():
            total["requests"] += n
            total["by_operation"][op] = total["by_operation"].get(op, 0) + n
        total["write_units"] += sum(data["write_units"].values())
        total["read_units"] += sum(data["read_units"].values())
    return total


def delta(after: dict, before: dict) -> dict:
    ops = {op: after["by_operation"].get(op, 0) - before["by_operation"].get(op, 0)
           for op in set(after["by_operation"]) | set(before["by_operation"])}
    return {"requests": after["requests"] - before["requests"], "write_units": after["write_units"] - before["write_units"],
            "read_units": after["read_units"] - before["read_units"], "by_operation": {k: v for k, v in ops.items() if v}}


class Api:
    def __init__(self, base: str):
        self.base, self.session = base, requests.Session()
        self.session.auth = ("demo", "demo")

    def bulk(self, n: int, payload: dict) -> list[str]:
        ids = []
        for start in range(0, n, 100):
            jobs = [{"name": f"bench {i}", "type": "echo", "payload": payload} for i in range(start, min(n, start + 100))]
            response = self.session.post(self.base + "/jobs/bulk", json={"jobs": jobs}, timeout=60)
            response.raise_for_status()
            ids += [r["id"] for r in response.json()["results"]]
        return ids

    def wait_final(self, ids: list[str], timeout: float = 900) -> None:
        deadline, left = time.monotonic() + timeout, list(ids)
        while left:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(left)} jobs not final")
            found = self.session.get(self.base + "/jobs", params={"ids": ",".join(left[:100])}, timeout=60).json()["results"]
            done = {j["id"] for j in found if j["status"] in ("COMPLETED", "FAILED", "CANCELED")}
            left = [i for i in left if i not in done]
            if left:
                time.sleep(0.5)

    def endpoint(self, url: str) -> str:
        response = self.session.post(self.base + "/webhooks", json={"url": url, "events": ["job.completed"]}, timeout=30)
        response.raise_for_status()
        return response.json()["id"]

    def delete(self, hook_id: str) -> None:
        self.session.delete(self.base + f"/webhooks/{hook_id}", timeout=30)


def settle(directory: Path, seconds: float = 4.0) -> dict:
    time.sleep(seconds)  # the meters flush every second; let the last writes land
    return meter(directory)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.bench_webhooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cost-jobs", type=int, default=200)
    parser.add_argument("--latency-jobs", type=int, default=40)
    parser.add_argument("--throughput-jobs", type=int, default=1000)
    parser.add_argument("--receiver-sleep", type=float, default=5.0)
    args = parser.parse_args(argv)
    run_dir = ROOT / "var" / "bench-webhooks" / time.strftime("%Y%m%d-%H%M%S")
    meter_dir = run_dir / "meter"
    meter_dir.mkdir(parents=True)
    stack = EmbeddedStack(web_port=free_port(), sqs_port=free_port(), dynamodb_port=free_port(), workers=1, recovery=False,
                          schedulers=0, log_dir=run_dir / "log", quiet=True,
                          extra_env={"BATCHLAB_AWS_METER_DIR": str(meter_dir), "BATCHLAB_SQLITE_PATH": str(run_dir / "db.sqlite3"),
                                     "BATCHLAB_WORKER_CONCURRENCY": "4"})
    out: dict = {}
    with stack:
        api = Api(stack.web_url)
        api.wait_final(api.bulk(20, {"warm": True}))  # warm-up, not counted
        # 1. cost per job, with and without one subscribed event
        before = settle(meter_dir)
        api.wait_final(api.bulk(args.cost_jobs, {"n": 1}))
        plain = delta(settle(meter_dir), before)
        receiver = Receiver()
        hook = api.endpoint(receiver.url)
        before = settle(meter_dir)
        api.wait_final(api.bulk(args.cost_jobs, {"n": 1}))
        deadline = time.monotonic() + 300
        while len(receiver.arrivals) < args.cost_jobs and time.monotonic() < deadline:
            time.sleep(0.2)
        hooked = delta(settle(meter_dir), before)
        n = args.cost_jobs
        out["cost"] = {
            "jobs": n, "delivered": len(receiver.arrivals),
            "per_job_without": {"requests": plain["requests"] / n, "write_units": plain["write_units"] / n, "read_units": plain["read_units"] / n},
            "per_job_with": {"requests": hooked["requests"] / n, "write_units": hooked["write_units"] / n, "read_units": hooked["read_units"] / n},
            "added_per_event": {k: (hooked[k] - plain[k]) / n for k in ("requests", "write_units", "read_units")},
            "added_by_operation": {op: (hooked["by_operation"].get(op, 0) - plain["by_operation"].get(op, 0)) / n
                                   for op in sorted(set(hooked["by_operation"]) | set(plain["by_operation"]))},
        }
        # 2. latency at low load: one job at a time
        lags = []
        for _ in range(args.latency_jobs):
            seen = len(receiver.arrivals)
            api.wait_final(api.bulk(1, {"n": 2}))
            deadline = time.monotonic() + 60
            while len(receiver.arrivals) == seen and time.monotonic() < deadline:
                time.sleep(0.005)
            at, body = receiver.arrivals[-1]
            lags.append(at - _epoch(body["data"]["finished_at"]))
        out["latency_seconds"] = {"jobs": len(lags), "p50": percentile(lags, 50), "p95": percentile(lags, 95), "max": max(lags)}
        api.delete(hook)
        receiver.stop()
        # 3. throughput with a receiver that sleeps, against none
        rates = {}
        for label, sleep in (("no endpoint", None), (f"endpoint sleeping {args.receiver_sleep:g} s", args.receiver_sleep)):
            hook_id = slow = None
            if sleep is not None:
                slow = Receiver(delay=sleep)
                hook_id = api.endpoint(slow.url)
            started = time.monotonic()
            api.wait_final(api.bulk(args.throughput_jobs, {"n": 3}))
            rates[label] = args.throughput_jobs / (time.monotonic() - started)
            if slow is not None:
                rates["deliveries done when the jobs were"] = len(slow.arrivals)
                api.delete(hook_id)
                slow.stop()
        out["throughput_jobs_per_second"] = rates
    (run_dir / "bench-webhooks.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return 0


def _epoch(stamp: str) -> float:
    """Epoch seconds of an RFC 3339 UTC stamp as the API writes it (2026-12-02T13:05:07.123456Z)."""
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


if __name__ == "__main__":
    raise SystemExit(main())
