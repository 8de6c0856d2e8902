"""`batchlab workers`: the workers that sent a heartbeat lately (staff), alive or stale."""

import argparse

from jobs.cli.client import Client
from jobs.cli.exit_codes import Exit
from jobs.cli.output import SHORT_IDS, print_json, print_table, short_id, time_text


def register(sub, common: argparse.ArgumentParser) -> None:
    sub.add_parser("workers", parents=[common], help="list the workers and what they run (staff)").set_defaults(func=workers)


def workers(args, client: Client) -> int:
    listing = client.get("/workers")
    if args.json:
        print_json(listing)
        return Exit.OK
    rows = [
        [w["id"], "[green]alive[/]" if w["alive"] else "[red]stale[/]", w["host"], w["pid"], w["version"],
         time_text(w["last_seen_at"]), ", ".join(map(short_id, w["running"])) or "idle", w["jobs_done"],
         time_text(w.get("last_receive_at")) or "never"]
        for w in listing["results"]
    ]
    title = f"workers: {listing['alive']} alive, {listing['stale']} stale (running jobs' {SHORT_IDS})"
    print_table(title, ["id", "state", "host", "pid", "version", "last seen", "running", "done", "last receive"], rows)
    return Exit.OK
