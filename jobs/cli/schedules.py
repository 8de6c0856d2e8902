"""`batchlab schedules ...`: list, show, create, edit, pause, resume, run, delete recurring schedules."""

import argparse
import json

from jobs.cli.client import Client
from jobs.cli.exit_codes import Exit
from jobs.cli.output import print_json, print_table, status_text, stdout


def register(sub, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("schedules", parents=[common], help="recurring schedules (list, show, create, edit, ...)")
    verbs = group.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs.add_parser("list", parents=[common], help="my schedules (staff: every schedule)").set_defaults(func=list_schedules)
    p = verbs.add_parser("show", parents=[common], help="a schedule with its last runs and history")
    p.add_argument("schedule_id")
    p.set_defaults(func=show)
    for verb, helptext in (("create", "create a schedule: --every SECONDS or --cron EXPR [--timezone TZ]"),
                           ("edit", "change a schedule's fields (only those given)")):
        p = verbs.add_parser(verb, parents=[common], help=helptext)
        if verb == "edit":
            p.add_argument("schedule_id")
        p.add_argument("type", nargs=None if verb == "create" else "?", help="a job type (see `batchlab types`)")
        p.add_argument("payload", nargs="?", default=None, help="the payload, a JSON object (default {})")
        p.add_argument("--name", default=None)
        p.add_argument("--every", type=int, default=None, metavar="SECONDS", help="an interval in seconds")
        p.add_argument("--cron", default=None, help='a cron expression, e.g. "0 2 * * *"')
        p.add_argument("--timezone", default=None, help="the cron's IANA timezone (default UTC)")
        p.add_argument("--overlap", choices=["skip", "allow", "queue_one"], default=None,
                       help="when the previous run is still going (default skip)")
        p.set_defaults(func=create if verb == "create" else edit, parser=p)
    for verb, helptext in (("pause", "stop firing"), ("resume", "fire again, counted from now"),
                           ("run", "run once now"), ("delete", "delete it (its jobs stay)")):
        p = verbs.add_parser(verb, parents=[common], help=helptext)
        p.add_argument("schedule_id")
        p.set_defaults(func=action, verb=verb)


def _body(args) -> dict:
    body = {"type": args.type, "name": args.name, "interval_seconds": args.every, "cron": args.cron,
            "timezone": args.timezone, "overlap": args.overlap}
    if args.payload is not None:
        try:
            body["payload"] = json.loads(args.payload)
        except ValueError as exc:
            args.parser.error(f"the payload is not JSON: {exc}")
    return {k: v for k, v in body.items() if v is not None}


def _every(s: dict) -> str:
    return f"cron {s['cron']} ({s['timezone']})" if s.get("cron") else f"every {s['interval_seconds']} s"


def _print(s: dict) -> None:
    console = stdout()
    console.print(f"[bold]{s['id']}[/]  {s['name']}  ({s['type']})  {_every(s)}  overlap={s['overlap']}")
    console.print(f"  next run  {'paused' if s['paused'] else s['next_run_at']}"
                  + ("" if s["paused"] else f" (in {s['next_run_in_seconds']} s)"))
    console.print(f"  runs      {s['fired_count']} fired, {s['skipped_count']} skipped, {s['missed_count']} missed;"
                  f" success rate {s['success_rate'] if s.get('success_rate') is not None else '-'}")
    for run in (s.get("runs") or [])[:10]:
        console.print(f"    {run['due_at']}  {run['outcome']:<8} {run['job_id'] or ''}  {status_text(run['status']) if run['status'] else ''}")


def list_schedules(args, client: Client) -> int:
    listing = client.get("/schedules")
    if args.json:
        print_json(listing)
        return Exit.OK
    rows = [[s["id"], s["name"], s["type"], _every(s), "paused" if s["paused"] else s["next_run_at"],
             status_text(s["last_run"]["status"]) if s.get("last_run") and s["last_run"]["status"] else "",
             s["fired_count"], s["skipped_count"]] for s in listing["results"]]
    print_table(None, ["id", "name", "type", "every", "next run", "last run", "fired", "skipped"], rows)
    return Exit.OK


def show(args, client: Client) -> int:
    schedule = client.get(f"/schedules/{args.schedule_id}")
    print_json(schedule) if args.json else _print(schedule)
    return Exit.OK


def create(args, client: Client) -> int:
    body = _body(args)
    body.setdefault("name", f"{args.type} {_every({'cron': args.cron, 'timezone': args.timezone or 'UTC', 'interval_seconds': args.every})}")
    schedule = client.post("/schedules", body)
    print_json(schedule) if args.json else _print(schedule)
    return Exit.OK


def edit(args, client: Client) -> int:
    schedule = client.request("PATCH", f"/schedules/{args.schedule_id}", body=_body(args))
    print_json(schedule) if args.json else _print(schedule)
    return Exit.OK


def action(args, client: Client) -> int:
    path = f"/schedules/{args.schedule_id}" + ("" if args.verb == "delete" else f"/{args.verb}")
    result = client.request("DELETE" if args.verb == "delete" else "POST", path)
    if args.json:
        print_json(result)
    elif args.verb == "run":
        stdout().print(f"started job {result['id']} {status_text(result['status'])}")
    elif args.verb == "delete":
        stdout().print(f"deleted {args.schedule_id}")
    else:
        _print(result)
    return Exit.OK
