"""`python -m devstack.bench_workflows`: what a workflow's step costs and how fast a release is, on the embedded stack.

On a fresh embedded stack (AWS meter on, N workers, default 2) it runs, one at a time:

- a batch of single echo jobs, then a chain of echo steps of the same length: AWS
  requests and DynamoDB write units per job and per step (every process of the
  stack, moto excluded), so a step's cost reads against a job's;
- diamonds (a → b, c → d): the time from each parent's finish to its child's start
  (p50, max over every edge), from the jobs' own timestamps;
- a fan-out of W steps (default 500, the limit) under one root into one collect:
  the submit request's time, the time until the collect ended (watched by its job
  alone), and what one GET /workflows/{id} of it costs.
"""

import argparse
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

from batchlab.awsmeter import totals_read
from devstack.bench_measure import percentile
from devstack.launcher import EmbeddedStack, free_port

FINAL = ("COMPLETED", "FAILED", "CANCELED")


def _totals(meter: Path) -> dict:
    time.sleep(1.5)  # each process writes its totals at most every 0.5 s
    totals = totals_read(meter)
    return {"requests": totals["requests"], "write_units": totals["write_units"]}


def _totals_with_reads(meter: Path) -> dict:
    time.sleep(1.5)
    return totals_read(meter)


def _per(before: dict, after: dict, count: int) -> dict:
    out = {}
    for kind in ("requests", "write_units"):
        delta = {k: after[kind].get(k, 0) - before[kind].get(k, 0) for k in after[kind]}
        out[kind] = {k: round(float(v) / count, 2) for k, v in sorted(delta.items()) if v}
        out[f"{kind}_total"] = round(sum(float(v) for v in delta.values()) / count, 2)
    return out


def _wait_workflow(session, url: str, workflow_id: str, timeout: float = 1800) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wf = session.get(f"{url}/workflows/{workflow_id}", timeout=60).json()
        if wf["status"] in FINAL and wf["steps_done"] == len(wf["steps"]):
            return wf
        time.sleep(0.3)
    raise TimeoutError(workflow_id)


def _wait_jobs(session, url: str, ids: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        found = session.get(f"{url}/jobs", params={"ids": ",".join(pending[:100])}, timeout=60).json()["results"]
        done = {j["id"] for j in found if j["status"] in FINAL}
        pending = [i for i in pending if i not in done]
        time.sleep(0.3)
    if pending:
        raise TimeoutError(pending[:3])


def _at(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _edges_latency(session, url: str, wf: dict) -> list[float]:
    steps = {s["name"]: s for s in wf["steps"]}
    gaps = []
    for parent, child in wf["edges"]:
        p, c = steps[parent], steps[child]
        if p.get("finished_at") and c.get("started_at"):
            gaps.append(_at(c["started_at"]) - _at(p["finished_at"]))
    return gaps


def measure(*, workers: int, length: int, diamonds: int, width: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-workflows-"))
    meter = tmp / "meter"
    stack = EmbeddedStack(web_port=free_port(), sqs_port=free_port(), dynamodb_port=free_port(), workers=workers,
                          recovery=False, log_dir=tmp / "log", quiet=True,
                          extra_env={"BATCHLAB_AWS_METER_DIR": str(meter), "BATCHLAB_SQLITE_PATH": str(tmp / "db.sqlite3")})
    out: dict = {"workers": workers}
    with stack:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {stack.manage('batchlab_token', 'demo').strip()}"
        url = stack.web_url

        before = _totals(meter)
        ids = [session.post(f"{url}/jobs", json={"name": f"single {i}", "type": "echo", "payload": {"i": i}},
                            timeout=60).json()["id"] for i in range(length)]
        _wait_jobs(session, url, ids)
        out["per_single_job"] = _per(before, _totals(meter), length)

        before = _totals(meter)
        chain = {f"s{i:03d}": {"type": "echo", "payload": {"i": i}, **({"needs": [f"s{i - 1:03d}"]} if i else {})}
                 for i in range(length)}
        wf = session.post(f"{url}/workflows", json={"name": "chain", "steps": chain}, timeout=120).json()
        wf = _wait_workflow(session, url, wf["id"])
        out["per_chain_step"] = _per(before, _totals(meter), length)
        gaps = _edges_latency(session, url, wf)

        for i in range(diamonds):
            body = {"name": f"diamond {i}", "steps": {
                "a": {"type": "echo"}, "b": {"type": "echo", "needs": ["a"]}, "c": {"type": "echo", "needs": ["a"]},
                "d": {"type": "collect", "needs": ["b", "c"]}}}
            wf = session.post(f"{url}/workflows", json=body, timeout=60).json()
            gaps += _edges_latency(session, url, _wait_workflow(session, url, wf["id"]))
        out["parent_finish_to_child_start_seconds"] = {
            "edges": len(gaps), "p50": round(percentile(gaps, 50), 3), "max": round(max(gaps), 3)}

        fan = {f"f{i:03d}": {"type": "echo", "needs": ["root"]} for i in range(width - 2)}
        body = {"name": f"fan-out {width}", "steps": {"root": {"type": "echo"}, **fan,
                                                      "all": {"type": "collect", "needs": sorted(fan)}}}
        started = time.monotonic()
        response = session.post(f"{url}/workflows", json=body, timeout=600)
        submitted = time.monotonic() - started
        response.raise_for_status()
        # Waited for by its last step's job alone: a GET /workflows/{id} of 500 steps reads all 500
        # jobs, and polling it would share the (serialised) embedded DynamoDB with the workers.
        last = next(s["job_id"] for s in response.json()["steps"] if s["name"] == "all")
        _wait_jobs(session, url, [last], timeout=1800)
        total = time.monotonic() - started
        before = _totals_with_reads(meter)
        wf = session.get(f"{url}/workflows/{response.json()['id']}", timeout=120).json()
        after = _totals_with_reads(meter)
        out["fan_out"] = {"steps": width, "status": wf["status"], "submit_seconds": round(submitted, 2),
                          "total_seconds": round(total, 2),
                          "one_get_of_the_workflow": {
                              "dynamodb_requests": {k: v - before["requests"].get(k, 0)
                                                    for k, v in after["requests"].items()
                                                    if k.startswith("dynamodb") and v != before["requests"].get(k, 0)},
                              "read_units": round(sum(float(v) for v in after["read_units"].values())
                                                  - sum(float(v) for v in before["read_units"].values()), 1)}}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.bench_workflows", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--length", type=int, default=50, help="single jobs, and steps of the chain")
    parser.add_argument("--diamonds", type=int, default=10)
    parser.add_argument("--width", type=int, default=500, help="steps of the fan-out (root and collect included)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(workers=args.workers, length=args.length, diamonds=args.diamonds, width=args.width),
                     indent=1), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
