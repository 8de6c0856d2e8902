"""`batchlab types [show|pause|resume|limits] ...`: the job types, and (staff) their pause and limits."""

import argparse
import json

from jobs.cli.client import Client
from jobs.cli.exit_codes import Exit
from jobs.cli.output import print_json, print_table, stdout

NONE = ("none", "null", "off", "-")


def register(sub, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("types", parents=[common], help="the job types; staff: show, pause, resume, limits TYPE")
    group.set_defaults(func=types)
    verbs = group.add_subparsers(dest="verb", required=False, metavar="VERB")
    for verb, helptext in (("show", "a type's settings (staff: with their history)"),
                           ("pause", "staff: running jobs finish, nothing new of the type starts"),
                           ("resume", "staff: its waiting jobs start again")):
        p = verbs.add_parser(verb, parents=[common], help=helptext)
        p.add_argument("type")
        p.set_defaults(func=show if verb == "show" else pause_resume, verb=verb)
    p = verbs.add_parser("limits", parents=[common], help="staff: change a type's limits (only those given; 'none' removes one)")
    p.add_argument("type")
    p.add_argument("--concurrency", metavar="N|none", help="at most N of the type running at once, on all workers")
    p.add_argument("--rate", metavar="RATE|none", help='starts of the type across all workers, e.g. "10/s", "600/min"')
    p.add_argument("--key-concurrency", metavar="N|none", help="at most N per concurrency_key (default key: the user)")
    p.add_argument("--key-rate", metavar="RATE|none", help="starts per concurrency_key")
    p.add_argument("--priority", choices=["high", "normal", "low"], help="the type's default priority")
    p.set_defaults(func=limits, parser=p)


def _limit(text: str | None, *, number: bool, parser, option: str):
    if text is None or text.lower() in NONE:
        return None
    if not number:
        return text
    try:
        return int(text)
    except ValueError:
        parser.error(f"{option}: a whole number or 'none', not {text!r}")


def _settings_text(settings: dict) -> str:
    parts = ["[red]paused[/]" if settings["paused"] else "running", f"priority {settings['priority']}"]
    for key, label in (("concurrency_limit", "at most {} at once"), ("rate_limit", "{} starts"),
                       ("key_concurrency_limit", "{} at once per key"), ("key_rate_limit", "{} starts per key")):
        if settings.get(key) is not None:
            parts.append(label.format(settings[key]))
    return ", ".join(parts)


def types(args, client: Client) -> int:
    answer = client.get("/job-types")
    if args.json:
        print_json(answer)
        return Exit.OK
    rows = [[t["name"], t.get("description") or "", _settings_text(t["settings"]) if "settings" in t else "",
             json.dumps(t.get("example"), ensure_ascii=False)] for t in answer["results"]]
    print_table("job types", ["type", "description", "flow control", "example payload"], rows)
    return Exit.OK


def _print_type(body: dict) -> None:
    console = stdout()
    console.print(f"[bold]{body['name']}[/]  {body['description']}")
    console.print(f"  now       {_settings_text(body['settings'])}")
    if body.get("running") is not None:
        console.print(f"  running   {body['running']} of {body['settings']['concurrency_limit']}")
    console.print(f"  defaults  {_settings_text(body['defaults'])}")
    for edit in body.get("history") or []:
        changes = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in edit["changes"].items())
        console.print(f"    {edit['at']}  {edit['actor']}  {edit['action']}: {changes}")


def show(args, client: Client) -> int:
    body = client.get(f"/job-types/{args.type}")
    print_json(body) if args.json else _print_type(body)
    return Exit.OK


def pause_resume(args, client: Client) -> int:
    body = client.post(f"/job-types/{args.type}/{args.verb}")
    print_json(body) if args.json else _print_type(body)
    return Exit.OK


def limits(args, client: Client) -> int:
    changes = {}
    for option, field, number in (("concurrency", "concurrency_limit", True), ("rate", "rate_limit", False),
                                  ("key_concurrency", "key_concurrency_limit", True), ("key_rate", "key_rate_limit", False)):
        value = getattr(args, option, None)
        if value is not None:
            changes[field] = _limit(value, number=number, parser=args.parser, option="--" + option.replace("_", "-"))
    if getattr(args, "priority", None):
        changes["priority"] = args.priority
    if not changes:
        args.parser.error("give at least one of --concurrency, --rate, --key-concurrency, --key-rate, --priority")
    body = client.request("PATCH", f"/job-types/{args.type}", body=changes)
    print_json(body) if args.json else _print_type(body)
    return Exit.OK
