"""`batchlab workflows ...`: submit a workflow from a JSON file (--wait: steps done of total, live), show, list, cancel, retry."""

import argparse
import json
import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from jobs.cli.client import Client
from jobs.cli.exit_codes import FINAL_STATUSES, Exit, exit_for_status
from jobs.cli.output import print_json, print_table, status_text, stderr, stdout


def register(sub, common: argparse.ArgumentParser) -> None:
    group = sub.add_parser("workflows", aliases=["wf"], parents=[common],
                           help="workflows: DAGs of steps (submit, show, list, cancel, retry)")
    verbs = group.add_subparsers(dest="verb", required=True, metavar="VERB")
    p = verbs.add_parser("submit", parents=[common], help="submit a workflow from a JSON file (- for stdin)")
    p.add_argument("file", help='{"name": ..., "steps": {"a": {"type": ..., "payload": ..., "needs": [...]}, ...}}')
    p.add_argument("--key", default=None, help="an Idempotency-Key: a retry with it never makes a second workflow")
    p.add_argument("--wait", action="store_true", help="follow it until every step is final (exit code by its status)")
    p.add_argument("--timeout", type=float, default=600, help="with --wait: give up after this many seconds (exit 5)")
    p.add_argument("--interval", type=float, default=1.0, help="with --wait: seconds between polls")
    p.set_defaults(func=submit, parser=p)
    p = verbs.add_parser("show", parents=[common], help="a workflow: its status and every step")
    p.add_argument("workflow_id")
    p.set_defaults(func=show)
    p = verbs.add_parser("list", parents=[common], help="my workflows, newest first (staff: all)")
    p.add_argument("--status", default=None, choices=["RUNNING", "COMPLETED", "FAILED", "CANCELED"])
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=list_workflows)
    for verb, helptext in (("cancel", "cancel every unfinished step (running ones stop at their next check)"),
                           ("retry", "re-run the failed and canceled steps and everything below them")):
        p = verbs.add_parser(verb, parents=[common], help=helptext)
        p.add_argument("workflow_id")
        p.add_argument("--wait", action="store_true", help="then follow it until every step is final")
        p.add_argument("--timeout", type=float, default=600)
        p.add_argument("--interval", type=float, default=1.0)
        p.set_defaults(func=action, verb=verb)


def _read(args) -> dict:
    try:
        if args.file == "-":
            return json.load(sys.stdin)
        with open(args.file, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        args.parser.error(f"cannot read {args.file}: {exc.strerror}")
    except ValueError as exc:
        args.parser.error(f"{args.file} is not JSON: {exc}")


def submit(args, client: Client) -> int:
    body = _read(args)
    workflow = client.post("/workflows", body, headers={"Idempotency-Key": args.key} if args.key else None)
    if not args.wait:
        print_json(workflow) if args.json else print_workflow(workflow)
        return Exit.OK
    return follow(client, workflow["id"], timeout=args.timeout, interval=args.interval, as_json=args.json)


def settled(workflow: dict) -> bool:
    return workflow["status"] in FINAL_STATUSES and workflow["steps_done"] == len(workflow["steps"])


def follow(client: Client, workflow_id: str, *, timeout: float, interval: float, as_json: bool) -> int:
    """Poll GET /workflows/{id} until every step (callbacks too) is final: a bar of steps done, a line per step's end."""
    deadline = time.monotonic() + timeout
    announced: dict[str, str] = {}
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=stderr(), disable=as_json) as progress:
        bar = progress.add_task(workflow_id, total=None)
        while True:
            workflow = client.get(f"/workflows/{workflow_id}")
            for step in workflow["steps"]:
                if step["status"] in FINAL_STATUSES and announced.get(step["name"]) != step["status"]:
                    announced[step["name"]] = step["status"]
                    line = {"workflow": workflow_id, "step": step["name"], "status": step["status"], "job_id": step["job_id"]}
                    if as_json:
                        print(json.dumps(line), file=progress.console.file, flush=True)
                    else:
                        progress.console.print(f"{step['name']}  {status_text(step['status'])}"
                                               + (f"  {step['error']['code']}" if step.get("error") else ""))
            progress.update(bar, description=f"{workflow['name']} {status_text(workflow['status'])}",
                            completed=workflow["steps_done"], total=len(workflow["steps"]))
            if settled(workflow):
                break
            if time.monotonic() + interval > deadline:
                progress.console.print(f"still {workflow['status']} after {timeout:.0f} s; stopped watching")
                print_json(workflow) if as_json else None
                return Exit.TIMEOUT
            time.sleep(interval)
    print_json(workflow) if as_json else print_workflow(workflow)
    return exit_for_status(workflow["status"])


def print_workflow(workflow: dict) -> None:
    console = stdout()
    console.print(f"[bold]{workflow['id']}[/]  {workflow['name']}  {status_text(workflow['status'])}"
                  f"  {workflow['steps_done']}/{len(workflow['steps'])} steps done")
    rows = [[s["name"] + ("" if s["role"] == "step" else f" ({s['role']})"), status_text(s["status"]),
             ", ".join(s["needs"]), s["duration_seconds"], (s["error"] or {}).get("code") or s["result_summary"] or "",
             s["job_id"]] for s in workflow["steps"]]
    print_table(None, ["step", "status", "needs", "seconds", "result / error", "job"], rows)


def show(args, client: Client) -> int:
    workflow = client.get(f"/workflows/{args.workflow_id}")
    print_json(workflow) if args.json else print_workflow(workflow)
    return Exit.OK


def list_workflows(args, client: Client) -> int:
    params = {"limit": args.limit, **({"status": args.status} if args.status else {})}
    page = client.get("/workflows", **params)
    if args.json:
        print_json(page)
        return Exit.OK
    print_table("workflows", ["id", "name", "status", "steps", "created", "finished"],
                [[w["id"], w["name"], status_text(w["status"]), w["steps_total"], w["created_at"], w["finished_at"]]
                 for w in page["results"]])
    return Exit.OK


def action(args, client: Client) -> int:
    workflow = client.post(f"/workflows/{args.workflow_id}/{args.verb}")
    if args.wait:
        return follow(client, workflow["id"], timeout=args.timeout, interval=args.interval, as_json=args.json)
    print_json(workflow) if args.json else print_workflow(workflow)
    return Exit.OK
