"""`batchlab watch JOB_ID`: a live progress bar and every transition until the job is final."""

import argparse
import json
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from jobs.cli.client import Client
from jobs.cli.exit_codes import FINAL_STATUSES, Exit, exit_for_status
from jobs.cli.output import print_job, print_json, status_text, stderr, timeline_line, whole_id


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("watch", aliases=["wait"], parents=[common],
                       help="follow a job until it is final: progress bar and transitions (exit code by its status)")
    p.add_argument("job_id", type=whole_id)
    p.add_argument("--timeout", type=float, default=600, help="give up after this many seconds (exit code 5)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    p.set_defaults(func=watch)


def watch(args, client: Client) -> int:
    return watch_job(client, args.job_id, timeout=args.timeout, interval=args.interval, as_json=args.json)


def watch_job(client: Client, job_id: str, *, timeout: float, interval: float = 1.0, as_json: bool = False) -> int:
    """Poll GET /jobs/{id} until the job is final or `timeout` passes.

    People get a progress bar and one line per timeline event on stderr, then the
    job on stdout; `--json` prints one JSON line per event on stderr and the job as JSON.
    """
    deadline = time.monotonic() + timeout
    seen = 0
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=stderr(), disable=as_json) as progress:
        bar = progress.add_task(job_id, total=None)
        while True:
            job = client.get(f"/jobs/{job_id}")
            timeline = job.get("timeline") or []
            for event in timeline[seen:]:
                if as_json:
                    print(json.dumps({"job": job_id, **event}), file=progress.console.file, flush=True)
                else:
                    progress.console.print(timeline_line(event))
            seen = len(timeline)
            done, total = job["progress"]["done"], job["progress"]["total"]
            progress.update(bar, description=f"{job['name']} {status_text(job['status'])}",
                            completed=done, total=total or (1 if job["status"] in FINAL_STATUSES else None))
            if job["status"] in FINAL_STATUSES:
                if not total:
                    progress.update(bar, completed=1)
                break
            if time.monotonic() + interval > deadline:
                progress.console.print(f"still {job['status']} after {timeout:.0f} s; stopped watching")
                print_json(job) if as_json else None
                return Exit.TIMEOUT
            time.sleep(interval)
    print_json(job) if as_json else print_job(job)
    return exit_for_status(job["status"])
