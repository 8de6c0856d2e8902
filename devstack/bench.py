"""`make bench`: BatchLab side by side with bare Celery and bare DRF on the embedded stack; every figure with its baseline and ratio.

One invocation starts the stack (moto SQS and DynamoDB, BatchLab's gunicorn, no
workers yet) and a bare DRF server, then alternates the systems: drains of a
pre-filled backlog (1 and 2 workers, concurrency 1 and 4), submits from 1 and 8
clients, a steady rate, end-to-end latency at low load and the idle cost.
bench_scenarios runs them, bench_report prints the table and bench.json.
"""

import argparse
import json
import os
import sys
import time
from datetime import datetime

from devstack.launcher import ROOT, EmbeddedStack, free_port

DEFAULT_PORTS = {8000, 5100, 5101}  # `make run` owns these; the benchmark never touches them
DRAIN_CONFIGS = [(2, 1), (2, 4), (1, 1), (1, 4)]  # (workers, concurrency); the last one stays up for the rest


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devstack.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--drain-jobs", type=int, default=500, help="backlog queued before the workers start (default 500)")
    parser.add_argument("--submit-jobs", type=int, default=200, help="POSTs per bare-DRF round and per 1-client round (default 200)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients filling the backlog (default 8)")
    parser.add_argument("--latency-jobs", type=int, default=20, help="jobs run one at a time for the latency figure (default 20)")
    parser.add_argument("--steady-rate", type=float, default=10, help="jobs/s in the steady-rate scenario (default 10)")
    parser.add_argument("--steady-seconds", type=float, default=10, help="length of the steady-rate scenario (default 10)")
    parser.add_argument("--idle-seconds", type=float, default=60, help="idle window; >= 40 to see the long polls (default 60)")
    parser.add_argument("--configs", default=",".join(f"{w}x{c}" for w, c in DRAIN_CONFIGS),
                        help="drain configurations WORKERSxCONCURRENCY, the last one stays up (default 2x1,2x4,1x1,1x4)")
    parser.add_argument("--warmup", type=int, default=32, help="POSTs per server first, not counted (default 32)")
    parser.add_argument("--batch-items", type=int, default=1000, help="items of the item job (checksum) measured per item; 0 skips (default 1000)")
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

    bench = sc.Bench(stack=stack, token=stack.manage("batchlab_token", "demo").strip(),
                     bare_url=sc.start_bare_web(stack, _free_port(), run_dir / "meter" / "bare"),
                     meter_dirs={"batchlab": run_dir / "meter" / "batchlab", "bare": run_dir / "meter" / "bare",
                                 "scheduler": run_dir / "meter" / "scheduler"})
    payload = json.loads(args.payload)
    # Warm up both servers' threads and the AWS connections (not counted), then submit
    # from one client with no worker running: the jobs wait in the queue, and the
    # warm-up drain runs them all.
    result = {"drains": [], "submits": [], "steady": [], "latency": None, "idle": None}
    meter_before_queued = bench.meter("batchlab")  # the first round's BatchLab drain counts from here
    for target in ("batchlab", "bare-validate", "bare-store") if args.warmup else ():
        sc.submit(bench, target, n=args.warmup, clients=args.clients, payload=payload)
    for target in ("bare-validate", "batchlab", "bare-store"):
        result["submits"].append(sc.submit(bench, target, n=args.submit_jobs, clients=1, payload=payload))
    # Those jobs are queued already: the first round's backlog is that much larger, for both systems.
    queued = args.warmup + args.submit_jobs

    configs = _configs(args.configs)
    for round_no, (workers, concurrency) in enumerate(configs):
        last = round_no == len(configs) - 1
        # A, B, A, B...: each system's next backlog is queued while the other one drains,
        # after its stopped workers' last long polls have run out (see bench_scenarios).
        for system in ("bare", "batchlab"):
            if system == "bare":  # the bare DRF rounds at the same client count, in turn with BatchLab's fill
                for target in ("bare-validate", "bare-store"):
                    result["submits"].append(sc.submit(bench, target, n=args.submit_jobs, clients=args.clients, payload=payload))
            extra = queued if round_no == 0 else 0
            meter0 = meter_before_queued if system == "batchlab" and extra else bench.meter(system)
            if system == "bare" and extra:
                sc.fill(bench, system, extra, args.clients, payload)
            submitted = sc.fill(bench, system, args.drain_jobs, args.clients, payload)
            if submitted:
                result["submits"].append(submitted)
            figures = sc.drain(bench, system, n=args.drain_jobs + extra, workers=workers, concurrency=concurrency, meter0=meter0, keep=last)
            result["drains"].append(figures)
            sc.log(f"drain {system} {workers}x{concurrency}: {figures['per_second']}/s, "
                   f"worker CPU {figures['worker_cpu_ms_per_job']} ms/job")
    # The last configuration's workers are up (both systems): steady rate, an item job, latency, idle.
    for system in ("bare", "batchlab"):
        result["steady"].append(sc.steady(bench, system, rate=args.steady_rate, seconds=args.steady_seconds, payload=payload))
    if args.batch_items:
        result["batch"] = sc.batch(bench, items=args.batch_items, chunk_size=args.chunk_size)
        sc.log(f"batch: {result['batch']}")
    result["latency"] = sc.low_load_latency(bench, jobs=args.latency_jobs, gap=0.2, payload=payload)
    sc.log(f"latency: {result['latency']}")
    if args.idle_seconds > 0:
        result["idle"] = sc.idle(bench, seconds=args.idle_seconds, workers={"bare": configs[-1][0], "batchlab": configs[-1][0]})
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
