"""Subcommands on jobs: submit, list, show, cancel, retry."""

import argparse
import json

from jobs.cli.client import Client
from jobs.cli.exit_codes import Exit, exit_for_status
from jobs.cli.items import submit_items
from jobs.cli.output import (
    SHORT_IDS, due_text, print_job, print_json, print_table, progress_text, short_id, status_text, stdout, time_text, whole_id,
)
from jobs.cli.watch import watch_job


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("submit", parents=[common], help="submit a job (and --wait for it)")
    p.add_argument("type", help="a job type (see `batchlab types`)")
    p.add_argument("payload", nargs="?", default="{}", help="the payload, a JSON object (default {})")
    p.add_argument("--name", default=None, help="a name for the job (default: '<type> from cli')")
    p.add_argument("--idempotency-key", default=None, help="a retried submit with the same key returns the same job")
    p.add_argument("--delay", type=int, default=None, metavar="SECONDS",
                   help="run it this many seconds from now (past 15 min: SCHEDULED until due; also with --items-file)")
    p.add_argument("--run-at", "--at", dest="at", default=None, metavar="RFC3339",
                   help="run it at this time, e.g. 2030-01-01T09:00:00Z (not with --delay)")
    p.add_argument("--priority", choices=["high", "normal", "low"], default=None, help="its queue (default: the type's)")
    p.add_argument("--key", dest="concurrency_key", default=None, metavar="KEY",
                   help="the concurrency_key its type's key limits count it under (default: you)")
    p.add_argument("--webhook", default=None, metavar="URL",
                   help="call this URL back when the job ends, signed with your callback secret (GET /webhooks/secret)")
    p.add_argument("--wait", action="store_true", help="watch the job until it is final (exit code by its status)")
    p.add_argument("--timeout", type=float, default=600, help="with --wait: give up after this many seconds")
    p.add_argument("--items-file", default=None, help="an item job: an NDJSON file, one item per line (the payload holds the options)")
    p.add_argument("--chunk-size", type=int, default=None, help="with --items-file: items per chunk (default: the type's)")
    p.add_argument("--max-failed-ratio", type=float, default=None, help="with --items-file: FAILED above this share of failed items")
    p.add_argument("--on-invalid", choices=["reject", "skip"], default=None, help="with --items-file: bad lines refuse the file, or fail alone")
    p.set_defaults(func=submit, parser=p)

    p = sub.add_parser("list", parents=[common], help="list jobs, newest first")
    p.add_argument("--status", choices=["SCHEDULED", "QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELED"])
    p.add_argument("--type")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--cursor", help="the next_cursor of the previous page")
    p.set_defaults(func=list_jobs)

    p = sub.add_parser("show", aliases=["get"], parents=[common], help="show one job with its timeline")
    p.add_argument("job_id", type=whole_id)
    p.set_defaults(func=show)

    for name, what in (("cancel", "cancel a job (QUEUED: at once; PROCESSING: cooperatively)"),
                       ("retry", "retry a FAILED or CANCELED job")):
        p = sub.add_parser(name, parents=[common], help=what)
        p.add_argument("job_id", type=whole_id)
        p.set_defaults(func=action, action=name)


def submit(args, client: Client) -> int:
    if args.delay is not None and args.at is not None:
        args.parser.error("give --delay or --run-at, not both")
    if args.items_file:
        return submit_items(args, client)
    try:
        payload = json.loads(args.payload)
    except ValueError as exc:
        args.parser.error(f"the payload is not JSON: {exc}")
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    body = {"name": args.name or f"{args.type} from cli", "type": args.type, "payload": payload}
    if args.delay is not None:
        body["delay_seconds"] = args.delay
    if args.at is not None:
        body["run_at"] = args.at
    body.update({k: v for k in ("priority", "concurrency_key") if (v := getattr(args, k, None)) is not None})
    if args.webhook:
        body["webhook"] = {"url": args.webhook}
    job = client.post("/jobs", body, headers=headers)
    if args.wait:
        if not args.json:
            stdout().print(f"submitted {job['id']} ({job['type']})")
        return watch_job(client, job["id"], timeout=args.timeout, as_json=args.json)
    if args.json:
        print_json(job)
    else:
        stdout().print(f"submitted {job['id']} ({job['type']}) {status_text(job['status'])}{due_text(job)}")
    return Exit.OK


def list_jobs(args, client: Client) -> int:
    page = client.get("/jobs", status=args.status, type=args.type, limit=args.limit, cursor=args.cursor)
    if args.json:
        print_json(page)
        return Exit.OK
    rows = [[short_id(j["id"]), j["name"], j["type"], status_text(j["status"]), progress_text(j), time_text(j["created_at"])]
            for j in page["results"]]
    print_table(f"jobs ({SHORT_IDS})", ["id", "name", "type", "status", "progress", "created"], rows,
                keep=("id", "status", "progress", "created"))
    if page.get("next_cursor"):
        stdout().print(f"more: batchlab list --cursor {page['next_cursor']}")
    return Exit.OK


def show(args, client: Client) -> int:
    job = client.get(f"/jobs/{args.job_id}")
    print_json(job) if args.json else print_job(job)
    return exit_for_status(job.get("status"))


def action(args, client: Client) -> int:
    job = client.post(f"/jobs/{args.job_id}/{args.action}")
    if args.json:
        print_json(job)
    else:
        extra = " (cancel requested: the handler stops at its next check)" if job.get("cancel_requested") and job["status"] == "PROCESSING" else ""
        stdout().print(f"{job['id']} {status_text(job['status'])}{extra}")
    return Exit.OK
