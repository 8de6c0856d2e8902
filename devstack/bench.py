"""`make bench`: BatchLab side by side with its peer (Celery + Celery's DynamoDB result backend) and a no-op floor, on one embedded stack.

One invocation starts the stack (moto SQS and DynamoDB, BatchLab's gunicorn, no
workers yet), the floor's DRF server (validates, stores nothing) and the peer's
(validates, apply_async), then alternates the three systems on the same moto
servers: drains of a pre-filled backlog (1 and 2 workers, concurrency 1 and 4),
submits from 1 and 8 clients, a steady rate, an item job with one and two sets
of workers, end-to-end latency at low load and the idle cost. bench_scenarios
runs them; bench_report prints every figure against both baselines with the
ratio, the target lines, and writes bench.json.
"""

import argparse
import json
import os
import sys
import time
from datetime import datetime

from devstack.bench_stack import SYSTEMS
from devstack.launcher import ROOT, EmbeddedStack, free_port

DEFAULT_PORTS = {8000, 5100, 5101}  # `make run` owns these; the benchmark never touches them
DRAIN_CONFIGS = [(2, 1), (2, 4), (1, 1), (1, 4)]  # (workers, concurrency); the last one stays up for the rest


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devstack.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--drain-jobs", type=int, default=500, help="backlog queued before the workers start (default 500)")
    parser.add_argument("--submit-jobs", type=int, default=200, help="POSTs per round of the floor's view and per 1-client round (default 200)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients filling the backlog (default 8)")
    parser.add_argument("--latency-jobs", type=int, default=20, help="jobs run one at a time for the latency figure (default 20)")
    parser.add_argument("--steady-rate", type=float, default=10, help="jobs/s in the steady-rate scenario (default 10)")
    parser.add_argument("--steady-seconds", type=float, default=10, help="length of the steady-rate scenario (default 10)")
    parser.add_argument("--idle-seconds", type=float, default=60, help="idle window; >= 40 to see the long polls (default 60)")
    parser.add_argument("--configs", default=",".join(f"{w}x{c}" for w, c in DRAIN_CONFIGS),
                        help="drain configurations WORKERSxCONCURRENCY, the last one stays up (default 2x1,2x4,1x1,1x4)")
    parser.add_argument("--warmup", type=int, default=32, help="POSTs per server first, not counted (default 32)")
    parser.add_argument("--batch-items", type=int, default=10_000,
                        help="items of the item job (checksum, an NDJSON file) measured per item; 0 skips (default 10,000)")
    parser.add_argument("--chunk-size", type=int, default=100, help="chunk size of that item job (default 100)")
    parser.add_argument("--polling-interval", type=float,
                        help="BATCHLAB_SQS_POLLING_INTERVAL for both systems' workers (default: the setting's default)")
    parser.add_argument("--payload", default='{"message": "hello"}', help="echo payload as JSON")
    return parser.parse_args(argv)


def _free_port() -> int:
    while (port := free_port()) in DEFAULT_PORTS:
        pass
    return port


def _configs(text: str) -> list[tuple[int, int]]:
    return [tuple(int(x) for x in part.split("x")) for part in text.split(",") if part]


def run(args, stack: EmbeddedStack, run_dir) -> dict:
    # Imported here: bare_app reads the SQS endpoint from the environment at import.
    from devstack import bench_scenarios as sc
    from devstack.bench_stack import Bench, prepare_baselines, start_baseline_web

    meter = {s: run_dir / "meter" / s for s in ("batchlab", "bare", "peer", "scheduler")}
    prepare_baselines(stack)
    bench = Bench(stack=stack, token=stack.manage("batchlab_token", "demo").strip(), meter_dirs=meter, urls={
        "batchlab": f"{stack.web_url}/jobs",
        "bare-validate": start_baseline_web(stack, "bare-web", _free_port(), "devstack.bare_settings", meter["bare"]) + "/bare/validate",
        "peer": start_baseline_web(stack, "peer-web", _free_port(), "devstack.peer_settings", meter["peer"]) + "/peer/jobs",
    })
    payload = json.loads(args.payload)
    # Warm up the servers' threads and the AWS connections (not counted), then submit
    # from one client with no worker running: the jobs wait in the queue, and the
    # first drain runs them all.
    result = {"drains": [], "submits": [], "steady": [], "latency": [], "batch": [], "idle": None}
    meter_before_queued = {s: bench.meter(s) for s in sc.SUBMITTED_BY}  # the first round's drains count from here
    for target in ("batchlab", "peer", "bare-validate") if args.warmup else ():
        sc.submit(bench, target, n=args.warmup, clients=args.clients, payload=payload)
    for target in ("bare-validate", "peer", "batchlab"):
        result["submits"].append(sc.submit(bench, target, n=args.submit_jobs, clients=1, payload=payload))
    # Those jobs are queued already: the first round's backlog is that much larger, for every system.
    queued = args.warmup + args.submit_jobs

    configs = _configs(args.configs)
    for round_no, (workers, concurrency) in enumerate(configs):
        last = round_no == len(configs) - 1
        # A, B, C, A, B, C...: each system's next backlog is queued while the others drain,
        # after its stopped workers' last long polls have run out (see bench_stack).
        for system in SYSTEMS:
            if system == "bare":  # the floor's view at the same client count, in turn with the others' fill
                result["submits"].append(sc.submit(bench, "bare-validate", n=args.submit_jobs, clients=args.clients, payload=payload))
            extra = queued if round_no == 0 else 0
            meter0 = meter_before_queued[system] if system in meter_before_queued and extra else bench.meter(system)
            if system == "bare" and extra:
                sc.fill(bench, system, extra, args.clients, payload)
            submitted = sc.fill(bench, system, args.drain_jobs, args.clients, payload)
            if submitted:
                result["submits"].append(submitted)
            figures = sc.drain(bench, system, n=args.drain_jobs + extra, workers=workers, concurrency=concurrency, meter0=meter0, keep=last)
            result["drains"].append(figures)
            sc.log(f"drain {system} {workers}x{concurrency}: {figures['per_second']}/s, "
                   f"worker CPU {figures['worker_cpu_ms_per_job']} ms/job")
    # The last configuration's workers are up (every system): steady rate, item jobs, latency, idle.
    for system in SYSTEMS:
        result["steady"].append(sc.steady(bench, system, rate=args.steady_rate, seconds=args.steady_seconds, payload=payload))
    if args.batch_items:
        workers, concurrency = configs[-1]
        result["batch"].append(sc.batch(bench, items=args.batch_items, chunk_size=args.chunk_size, workers=workers))
        sc.log(f"batch: {result['batch'][-1]}")
        # As many workers again: does a second set of workers speed the item job up?
        more = bench.start_workers("batchlab", workers, concurrency)
        result["batch"].append(sc.batch(bench, items=args.batch_items, chunk_size=args.chunk_size, workers=2 * workers))
        sc.log(f"batch: {result['batch'][-1]}")
        bench.stop_workers(more)
    for system in ("peer", "batchlab"):
        result["latency"].append(sc.low_load_latency(bench, system, jobs=args.latency_jobs, gap=0.2, payload=payload))
        sc.log(f"latency: {result['latency'][-1]}")
    if args.idle_seconds > 0:
        result["idle"] = sc.idle(bench, seconds=args.idle_seconds, workers={s: configs[-1][0] for s in SYSTEMS})
    return result


def versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("celery", "kombu", "Django", "djangorestframework", "pynamodb", "boto3", "moto")} | {
        "python": sys.version.split()[0]}


def main(argv=None) -> int:
    args = parse_args(argv)
    from devstack.bench_report import table

    run_dir = ROOT / "var" / "bench" / datetime.now().strftime("%Y%m%d-%H%M%S")
    stack = EmbeddedStack(
        web_port=_free_port(), sqs_port=_free_port(), dynamodb_port=_free_port(),
        workers=0, recovery=False, schedulers=0, web=True, demo_users=True, quiet=True, log_dir=run_dir / "log",
        extra_env={"BATCHLAB_SQLITE_PATH": str(run_dir / "db.sqlite3"),
                   "BATCHLAB_AWS_METER_DIR": str(run_dir / "meter" / "batchlab")},
    )
    if args.polling_interval is not None:
        stack.extra_env["BATCHLAB_SQS_POLLING_INTERVAL"] = str(args.polling_interval)
    # The bare Celery app (imported by the scenarios) and this process's clients use the stack's SQS.
    os.environ.update(AWS_ENDPOINT_URL_SQS=stack.sqs_endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_REGION="us-east-1", BATCHLAB_AWS_METER_DIR=str(run_dir / "meter" / "bare"))
    print(f"Starting the embedded stack (logs in {stack.log_dir})...", flush=True)
    began = time.monotonic()
    try:
        stack.start()
        # The scheduler's ticks cost requests by the clock, not by the job: counted on their own.
        stack.start_scheduler(env=stack.env() | {"BATCHLAB_AWS_METER_DIR": str(run_dir / "meter" / "scheduler")})
        result = run(args, stack, run_dir)
    finally:
        stack.stop()
    result["meta"] = {
        "when": datetime.now().astimezone().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
        "load_average": os.getloadavg(), "seconds": round(time.monotonic() - began, 1), "versions": versions(),
        "args": vars(args),
    }
    out = run_dir / "bench.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result), flush=True)
    print(f"\nFigures written to {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
