"""`batchlab types`: the job types the server knows, with an example payload each."""

import argparse
import json

from jobs.cli.client import Client
from jobs.cli.exit_codes import Exit
from jobs.cli.output import print_json, print_table


def register(sub, common: argparse.ArgumentParser) -> None:
    sub.add_parser("types", parents=[common], help="list the job types").set_defaults(func=types)


def types(args, client: Client) -> int:
    answer = client.get("/job-types")
    if args.json:
        print_json(answer)
        return Exit.OK
    catalogue = answer["results"]
    rows = [[t["name"], t.get("description") or "", json.dumps(t.get("example"), ensure_ascii=False)] for t in catalogue]
    print_table("job types", ["type", "description", "example payload"], rows)
    return Exit.OK
