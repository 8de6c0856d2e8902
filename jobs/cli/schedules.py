"""`batchlab schedules ...`: list, show, create, edit, pause, resume, run, delete recurring schedules.

A schedule of an item type (`batchlab types` shows which) takes its items inline
(`--items '["a","b"]'`, in the JSON body) or from an NDJSON file (`--items-file`:
POST /schedules/files on create, PUT /schedules/{id}/items on edit, streamed).
"""

import argparse
import json
import os

from jobs.cli.client import Client
from jobs.cli.exit_codes import Exit
from jobs.cli.items import MultipartFile
from jobs.cli.output import SHORT_IDS, print_json, print_table, short_id, status_text, stdout, time_text, whole_id


def register(sub, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("schedules", parents=[common], help="recurring schedules (list, show, create, edit, ...)")
    verbs = group.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs.add_parser("list", parents=[common], help="my schedules (staff: every schedule)").set_defaults(func=list_schedules)
    p = verbs.add_parser("show", parents=[common], help="a schedule with its last runs and history")
    p.add_argument("schedule_id", type=whole_id)
    p.set_defaults(func=show)
    for verb, helptext in (("create", "create a schedule: --every SECONDS or --cron EXPR [--timezone TZ]"),
                           ("edit", "change a schedule's fields (only those given)")):
        p = verbs.add_parser(verb, parents=[common], help=helptext)
        if verb == "edit":
            p.add_argument("schedule_id", type=whole_id)
        p.add_argument("type", nargs="?", help="a job type (see `batchlab types`); not with --workflow")
        p.add_argument("--workflow", default=None, metavar="FILE",
                       help="every run is this workflow (a JSON file, the body of POST /workflows) instead of a job"
                            + ("; it replaces the current one" if verb == "edit" else ""))
        p.add_argument("payload", nargs="?", default=None, help="the payload, a JSON object (default {})")
        p.add_argument("--name", default=None)
        p.add_argument("--every", type=int, default=None, metavar="SECONDS", help="an interval in seconds")
        p.add_argument("--cron", default=None, help='a cron expression, e.g. "0 2 * * *"')
        p.add_argument("--timezone", default=None, help="the cron's IANA timezone (default UTC)")
        p.add_argument("--overlap", choices=["skip", "allow", "queue_one"], default=None,
                       help="when the previous run is still going (default skip)")
        items = p.add_mutually_exclusive_group()
        items.add_argument("--items", default=None, metavar="JSON",
                           help="an item type's items, a JSON array (every run is an item job over them)"
                                + ("; they replace the current items" if verb == "edit" else ""))
        items.add_argument("--items-file", default=None, metavar="FILE", help="the items from an NDJSON file, one per line"
                           + (" (replaces the current items)" if verb == "edit" else ""))
        if verb == "edit":
            items.add_argument("--no-items", action="store_true", help="drop the items (to switch to a payload type)")
        p.add_argument("--chunk-size", type=int, default=None, help="with items: items per chunk (default: the type's)")
        p.add_argument("--on-invalid", choices=["reject", "skip"], default=None,
                       help="with items: a bad item refuses them all (reject, default), or fails in every run (skip)")
        p.add_argument("--max-failed-ratio", type=float, default=None,
                       help="with items: a run FAILs when a larger share of its items failed (default 1)")
        p.set_defaults(func=create if verb == "create" else edit, parser=p)
    for verb, helptext in (("pause", "stop firing"), ("resume", "fire again, counted from now"),
                           ("run", "run once now"), ("delete", "delete it (its jobs stay)")):
        p = verbs.add_parser(verb, parents=[common], help=helptext)
        p.add_argument("schedule_id", type=whole_id)
        p.set_defaults(func=action, verb=verb)


def _body(args) -> dict:
    """The JSON body of POST/PATCH /schedules from the options given (usage errors exit 3 before anything is sent)."""
    body = {"type": args.type, "name": args.name, "interval_seconds": args.every, "cron": args.cron,
            "timezone": args.timezone, "overlap": args.overlap, "max_failed_ratio": args.max_failed_ratio}
    if not args.items_file:  # with a file, these go with the upload
        body.update(chunk_size=args.chunk_size, on_invalid=args.on_invalid)
    if args.payload is not None:
        try:
            body["payload"] = json.loads(args.payload)
        except ValueError as exc:
            args.parser.error(f"the payload is not JSON: {exc}")
    if args.items is not None:
        try:
            body["items"] = json.loads(args.items)
        except ValueError as exc:
            args.parser.error(f"--items is not JSON: {exc}")
        if not isinstance(body["items"], list):
            args.parser.error("--items must be a JSON array, e.g. '[\"a\", \"b\"]'")
    if args.items_file and not os.path.isfile(args.items_file):
        args.parser.error(f"no such file: {args.items_file}")
    if args.workflow is not None:
        if args.type or args.payload is not None or args.items is not None or args.items_file:
            args.parser.error("--workflow fires a workflow: give no job type, payload or items with it")
        try:
            with open(args.workflow, encoding="utf-8") as handle:
                body["workflow"] = json.load(handle)
        except OSError as exc:
            args.parser.error(f"cannot read {args.workflow}: {exc.strerror}")
        except ValueError as exc:
            args.parser.error(f"{args.workflow} is not JSON: {exc}")
    body = {k: v for k, v in body.items() if v is not None}
    if getattr(args, "no_items", False):
        body["items"] = None
    return body


def _upload(client: Client, method: str, path: str, fields: dict, file: str) -> dict:
    """A multipart request of form fields (JSON values as text) and the NDJSON file, streamed."""
    fields = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in fields.items()}
    body = MultipartFile(fields, file)
    headers = {"Content-Type": f"multipart/form-data; boundary={body.boundary}", "Content-Length": str(body.length)}
    return client.request(method, path, raw=body, headers=headers)


def items_text(s: dict) -> str:
    """"25 items · chunks of 10" (and the lines kept as failed with on_invalid=skip), or "" for a payload schedule."""
    items = s.get("items")
    if not items:
        return ""
    invalid = f" ({items['invalid']} invalid, failed in every run)" if items.get("invalid") else ""
    return f"{items['total']} items · chunks of {items['chunk_size']}{invalid}"


def _every(s: dict) -> str:
    return f"cron {s['cron']} ({s['timezone']})" if s.get("cron") else f"every {s['interval_seconds']} s"


def _print(s: dict) -> None:
    console = stdout()
    what = f"workflow {s['workflow']['name']}, {s['workflow']['steps']} steps" if s.get("workflow") else s["type"]
    console.print(f"[bold]{s['id']}[/]  {s['name']}  ({what})  {_every(s)}  overlap={s['overlap']}")
    if s.get("items"):
        console.print(f"  items     {items_text(s)}; on_invalid={s['items']['on_invalid']},"
                      f" max_failed_ratio={s['items']['max_failed_ratio']:g}")
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
    rows = [[short_id(s["id"]), s["name"], f"workflow {s['workflow']['name']}" if s.get("workflow") else s["type"], _every(s), items_text(s), "paused" if s["paused"] else time_text(s["next_run_at"]),
             status_text(s["last_run"]["status"]) if s.get("last_run") and s["last_run"]["status"] else "",
             s["fired_count"], s["skipped_count"]] for s in listing["results"]]
    print_table(f"schedules ({SHORT_IDS})", ["id", "name", "type", "every", "items", "next run", "last run", "fired", "skipped"], rows)
    return Exit.OK


def show(args, client: Client) -> int:
    schedule = client.get(f"/schedules/{args.schedule_id}")
    print_json(schedule) if args.json else _print(schedule)
    return Exit.OK


def create(args, client: Client) -> int:
    if not args.type and args.workflow is None:
        args.parser.error("give a job type, or --workflow FILE")
    body = _body(args)
    what = f"workflow {body['workflow'].get('name', '')}" if args.workflow is not None else args.type
    body.setdefault("name", f"{what} {_every({'cron': args.cron, 'timezone': args.timezone or 'UTC', 'interval_seconds': args.every})}")
    if args.items_file:
        fields = {**body, "chunk_size": args.chunk_size, "on_invalid": args.on_invalid}
        schedule = _upload(client, "POST", "/schedules/files", {k: v for k, v in fields.items() if v is not None},
                           args.items_file)
    else:
        schedule = client.post("/schedules", body)
    print_json(schedule) if args.json else _print(schedule)
    return Exit.OK


def edit(args, client: Client) -> int:
    """PATCH the fields given; with --items-file, then PUT the file as the new items (only that if nothing else changes)."""
    body = _body(args)
    path = f"/schedules/{args.schedule_id}"
    schedule = client.request("PATCH", path, body=body) if body or not args.items_file else None
    if args.items_file:
        fields = {k: v for k, v in {"chunk_size": args.chunk_size, "on_invalid": args.on_invalid}.items() if v is not None}
        schedule = _upload(client, "PUT", f"{path}/items", fields, args.items_file)
    print_json(schedule) if args.json else _print(schedule)
    return Exit.OK


def action(args, client: Client) -> int:
    path = f"/schedules/{args.schedule_id}" + ("" if args.verb == "delete" else f"/{args.verb}")
    result = client.request("DELETE" if args.verb == "delete" else "POST", path)
    if args.json:
        print_json(result)
    elif args.verb == "run":
        kind = "workflow" if "steps" in result else "job"
        stdout().print(f"started {kind} {result['id']} {status_text(result['status'])}")
    elif args.verb == "delete":
        stdout().print(f"deleted {args.schedule_id}")
    else:
        _print(result)
    return Exit.OK
