"""The benchmark's result: the summary (written to bench.json) and the table it prints."""

import os
from datetime import datetime

from devstack.bench_measure import idle_gap_seconds, parse_time, percentile

FINAL = ("COMPLETED", "FAILED", "CANCELED")
LONG_POLL_SECONDS = 20  # the SQS wait time the workers use (batchlab/celery.py)


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
