"""`python -m devstack.bench_profile`: where BatchLab's own CPU per job goes, under cProfile, against real moto servers.

Starts moto SQS and DynamoDB (no web, no workers), then in this process runs N
echo jobs through the two hot paths exactly as the web and the worker call them
(`job_submit`: model, PutItem, Celery publish; `job_execute`: claim, context and
lease thread, handler, complete, logging) and prints the top functions by own
time and by cumulative time for each path. moto's CPU is in its own processes,
so what is printed is ours, boto's and Celery's publish path.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from datetime import datetime

from devstack.launcher import ROOT, EmbeddedStack, free_port


def _profile(fn, n: int) -> tuple[pstats.Stats, float]:
    profiler = cProfile.Profile(time.process_time)  # CPU, not wall: waiting on moto is not ours
    began = time.process_time()
    profiler.enable()
    for i in range(n):
        fn(i)
    profiler.disable()
    return pstats.Stats(profiler), (time.process_time() - began) / n


def _top(stats: pstats.Stats, key: str, limit: int) -> str:
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats(key).print_stats(limit)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    return "\n".join(lines[start:start + limit + 1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.bench_profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    run_dir = ROOT / "var" / "bench" / ("profile-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    stack = EmbeddedStack(sqs_port=free_port(), dynamodb_port=free_port(), workers=0, recovery=False, web=False,
                          demo_users=False, quiet=True, log_dir=run_dir / "log",
                          extra_env={"BATCHLAB_SQLITE_PATH": str(run_dir / "db.sqlite3")})
    try:
        stack.start()
        os.environ.update({k: v for k, v in stack.env().items() if k.startswith(("AWS_", "BATCHLAB_", "DJANGO_"))})
        import django

        django.setup()
        from jobs.services import job_submit
        from jobs.services.jobs.runner import job_execute

        for i in range(10):  # connections and lazy imports, not counted
            job_execute(job_id=job_submit(owner="demo", name=f"warm {i}", type="echo", payload={"i": i})[0].job_id)
        ids = []
        submit_stats, submit_cpu = _profile(
            lambda i: ids.append(job_submit(owner="demo", name=f"bench {i}", type="echo", payload={"message": "hello"})[0].job_id), args.jobs)
        run_stats, run_cpu = _profile(lambda i: job_execute(job_id=ids[i]), args.jobs)
    finally:
        stack.stop()
    print(f"{args.jobs} echo jobs; this process's CPU per job (with cProfile on, so ~1.5-2x): "
          f"submit {submit_cpu * 1000:.2f} ms, execute {run_cpu * 1000:.2f} ms")
    for title, stats in (("job_submit", submit_stats), ("job_execute", run_stats)):
        print(f"\n== {title}: top {args.top} by own time ==\n{_top(stats, 'tottime', args.top)}")
        print(f"\n== {title}: top {args.top} by cumulative time ==\n{_top(stats, 'cumulative', args.top)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
