"""`make bench-webhooks`: what webhooks cost per job and how fast they arrive, on the embedded stack with a receiver on 127.0.0.1.

1. cost: N echo jobs with no endpoint, then N with one endpoint subscribed to
   job.completed (a receiver answering 200 at once); the AWS requests and
   DynamoDB write units of every process (batchlab/awsmeter.py), per job, and the
   difference: what one subscribed event adds.
2. latency: jobs one at a time; from the job's final write (its finished_at) to
   the receiver's answer, p50 and p95.
3. throughput: M jobs drained by one worker with no endpoint and with an endpoint
   that sleeps S seconds per request, in turn (A, B, A, B; a round starts once the
   last round's deliveries are done), then with one that answers at once: jobs/s
   and CPU per job of each process. "None" against "sleeping" is what a slow
   receiver costs the jobs (nothing, if it never holds a job worker); against
   "answering at once", what the deliveries themselves cost on this stack (their
   AWS requests on the same single-threaded moto servers and two cores).
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from devstack.bench_measure import cpu_sample, cpu_seconds, percentile
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
    def __init__(self, base: str, token: str):
        self.base, self.session = base, requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"  # not Basic: PBKDF2 costs the web ~0.2 s of CPU a request

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

    def wait_deliveries_done(self, web_url: str, timeout: float = 300) -> float:
        """Seconds until the web's /metrics counts no unfinished delivery (so the next round does not pay for them)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            text = requests.get(web_url + "/metrics", timeout=30).text
            line = next((x for x in text.splitlines() if x.startswith('batchlab_webhook_backlog{what="unfinished_deliveries"}')), "")
            if line and float(line.split()[-1]) == 0:
                return round(time.monotonic() - started, 1)
            time.sleep(1)
        raise TimeoutError(f"deliveries still unfinished after {timeout:g} s")

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
    parser.add_argument("--throughput-rounds", type=int, default=2, choices=range(1, 11), metavar="1..10",
                        help="rounds of (no endpoint, sleeping endpoint); the answering-at-once round runs last, on the biggest table")
    args = parser.parse_args(argv)
    run_dir = ROOT / "var" / "bench-webhooks" / time.strftime("%Y%m%d-%H%M%S")
    meter_dir = run_dir / "meter"
    meter_dir.mkdir(parents=True)
    stack = EmbeddedStack(web_port=free_port(), sqs_port=free_port(), dynamodb_port=free_port(), workers=1, recovery=False,
                          schedulers=0, log_dir=run_dir / "log", quiet=True,
                          extra_env={"BATCHLAB_AWS_METER_DIR": str(meter_dir), "BATCHLAB_SQLITE_PATH": str(run_dir / "db.sqlite3"),
                                     "BATCHLAB_WORKER_CONCURRENCY": "4", "BATCHLAB_METRICS_CACHE_SECONDS": "1"})
    out: dict = {}
    with stack:
        api = Api(stack.web_url, stack.tokens.get("demo") or stack.manage("batchlab_token", "demo").strip())
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
        # 3. throughput: no endpoint and a sleeping one in turn (A, B, A, B), then one answering at once
        rates: dict = {}
        sleeping = f"endpoint sleeping {args.receiver_sleep:g} s"
        for label, sleep in (("none", None), (sleeping, args.receiver_sleep)) * args.throughput_rounds + (("answering at once", 0.0),):
            hook_id = slow = None
            if sleep is not None:
                slow = Receiver(delay=sleep)
                hook_id = api.endpoint(slow.url)
            groups = {name: [proc.pid] for name, proc in stack.processes.items()}  # a worker's tree holds its delivery worker
            cpu0, started = cpu_sample(groups), time.monotonic()
            api.wait_final(api.bulk(args.throughput_jobs, {"n": 3}))
            run = {"jobs_per_second": round(args.throughput_jobs / (time.monotonic() - started), 2),
                   "cpu_ms_per_job": {name: round(1000 * seconds / args.throughput_jobs, 1)
                                      for name, seconds in cpu_seconds(cpu0, cpu_sample(groups)).items()}}
            if slow is not None:
                run["deliveries_done_when_the_jobs_were"] = len(slow.arrivals)
                api.delete(hook_id)  # its deliveries left fail at once ("its endpoint was deleted")
                slow.stop()
                run["seconds_until_no_delivery_was_left"] = api.wait_deliveries_done(stack.web_url)
            rates.setdefault(label, []).append(run)
        pairs = [b["jobs_per_second"] / a["jobs_per_second"] for a, b in zip(rates["none"], rates[sleeping])]
        rates[f"ratio {sleeping} / none, per round"] = [round(r, 3) for r in pairs]
        rates[f"ratio {sleeping} / none, mean"] = round(sum(pairs) / len(pairs), 3)
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
