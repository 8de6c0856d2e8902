"""`python -m devstack.bench_items`: items per second and AWS requests per item of an item job, with 1 and 2 workers.

For each worker count it starts a fresh embedded stack (AWS meter on), uploads an
NDJSON file of N strings for `checksum` (default chunk size 100), waits for the
job to end, and prints the job's own items/s (first chunk claimed -> last chunk
done), the wall time from the upload, and the AWS requests per item by operation
(every process of the stack: web, workers, moto excluded). Then it submits a bulk
of 100 echo jobs and prints the requests per bulk-submitted job, run to the end.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import requests

from batchlab.awsmeter import totals_read
from devstack.bench_measure import peak_rss_mb
from devstack.launcher import EmbeddedStack, free_port


def _wait(session, url: str, job_id: str, timeout: float = 3600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = session.get(f"{url}/jobs/{job_id}", timeout=30).json()
        if job["status"] in ("COMPLETED", "FAILED", "CANCELED"):
            return job
        time.sleep(0.2)
    raise TimeoutError(job_id)


def _requests(meter: Path) -> dict:
    time.sleep(1.5)  # each process writes its totals at most every 0.5 s
    return totals_read(meter)["requests"]


def _delta(before: dict, after: dict) -> dict:
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(after) if after.get(k, 0) != before.get(k, 0)}


def measure(*, workers: int, items: int, bulk: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-items-"))
    meter = tmp / "meter"
    stack = EmbeddedStack(web_port=free_port(), sqs_port=free_port(), dynamodb_port=free_port(), workers=workers,
                          recovery=False, log_dir=tmp / "log", quiet=True,
                          extra_env={"BATCHLAB_AWS_METER_DIR": str(meter), "BATCHLAB_SQLITE_PATH": str(tmp / "db.sqlite3")})
    with stack:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {stack.manage('batchlab_token', 'demo').strip()}"
        body = "".join(json.dumps(f"item {i:07d}") + "\n" for i in range(items)).encode()
        before = _requests(meter)
        started = time.monotonic()
        response = session.post(f"{stack.web_url}/jobs/files", data={"name": "bench", "type": "checksum"},
                                files={"file": ("items.ndjson", body)}, timeout=300)
        response.raise_for_status()
        job = _wait(session, stack.web_url, response.json()["id"])
        wall = time.monotonic() - started
        per_item = {k: round(v / items, 4) for k, v in _delta(before, _requests(meter)).items()}
        out = {"workers": workers, "items": items, "status": job["status"], "items_per_second": job["items"]["items_per_second"],
               "wall_seconds_from_upload": round(wall, 2), "requests_per_item": per_item,
               "file_mb": round(len(body) / 1e6, 1),
               # The peak resident set (VmHWM) of each process tree, to compare across file sizes (moto keeps the file in memory).
               "peak_rss_mb": {name: peak_rss_mb([proc.pid]) for name, proc in stack.processes.items()},
               "chunk_workers": len({c["worker"] for c in session.get(f"{stack.web_url}/jobs/{job['id']}/chunks?limit=1000").json()["results"]})}
        if bulk:
            before = _requests(meter)
            jobs = [{"name": f"bulk {i}", "type": "echo", "payload": {"i": i}} for i in range(100)]
            results = session.post(f"{stack.web_url}/jobs/bulk", json={"jobs": jobs}, timeout=60).json()["results"]
            for r in results:
                _wait(session, stack.web_url, r["id"])
            out["requests_per_bulk_job"] = {k: round(v / 100, 3) for k, v in _delta(before, _requests(meter)).items()}
        return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.bench_items", description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--no-bulk", action="store_true", help="skip the 100 bulk-submitted jobs")
    args = parser.parse_args(argv)
    for n, workers in enumerate(int(w) for w in args.workers.split(",")):
        print(json.dumps(measure(workers=workers, items=args.items, bulk=n == 0 and not args.no_bulk), indent=1), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
