"""`batchlab submit TYPE --items-file FILE`: an item job from an NDJSON file (streamed), with a live progress bar and an exit code that says whether items failed."""

import json
import os
import time
import uuid

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from jobs.cli.client import Client
from jobs.cli.exit_codes import FINAL_STATUSES, Exit, exit_for_status
from jobs.cli.output import due_text, print_job, print_json, status_text, stderr, stdout

BLOCK = 1 << 16


class MultipartFile:
    """A multipart/form-data body of some fields and one file, read block by block (never whole in memory)."""

    def __init__(self, fields: dict, path: str):
        self.boundary = f"batchlab-{uuid.uuid4().hex}"
        head = "".join(f'--{self.boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items())
        head += (f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="{os.path.basename(path)}"\r\n'
                 "Content-Type: application/x-ndjson\r\n\r\n")
        self.head, self.tail, self.path = head.encode(), f"\r\n--{self.boundary}--\r\n".encode(), path
        self.length = len(self.head) + os.path.getsize(path) + len(self.tail)

    def __iter__(self):
        yield self.head
        with open(self.path, "rb") as f:
            while block := f.read(BLOCK):
                yield block
        yield self.tail


def submit_items(args, client: Client) -> int:
    """Upload the file to POST /jobs/files; with --wait, follow the items until the job is final."""
    try:
        payload = json.loads(args.payload)
    except ValueError as exc:
        args.parser.error(f"the payload is not JSON: {exc}")
    if not os.path.isfile(args.items_file):
        args.parser.error(f"no such file: {args.items_file}")
    fields = {"name": args.name or f"{args.type} from cli", "type": args.type, "payload": json.dumps(payload)}
    for option in ("chunk_size", "max_failed_ratio", "on_invalid", "priority", "concurrency_key"):
        if getattr(args, option) is not None:
            fields[option] = getattr(args, option)
    if args.delay is not None:
        fields["delay_seconds"] = args.delay
    if args.at is not None:
        fields["run_at"] = args.at
    body = MultipartFile(fields, args.items_file)
    headers = {"Content-Type": f"multipart/form-data; boundary={body.boundary}", "Content-Length": str(body.length)}
    if args.idempotency_key:
        headers["Idempotency-Key"] = args.idempotency_key
    job = client.request("POST", "/jobs/files", raw=body, headers=headers)
    if not args.wait:
        print_json(job) if args.json else stdout().print(
            f"submitted {job['id']} ({job['type']}, {job['items']['total']} items) {status_text(job['status'])}{due_text(job)}")
        return Exit.OK
    if not args.json:
        stdout().print(f"submitted {job['id']} ({job['type']}, {job['items']['total']} items in {job['items']['chunks_total']} chunks)")
    return watch_items(client, job["id"], timeout=args.timeout, as_json=args.json)


def watch_items(client: Client, job_id: str, *, timeout: float, interval: float = 1.0, as_json: bool = False) -> int:
    """A progress bar of items done, with failed count and items/s; exit 0 all succeeded, 6 some failed, else by status."""
    deadline = time.monotonic() + timeout
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=stderr(), disable=as_json) as progress:
        bar = progress.add_task(job_id, total=None)
        while True:
            job = client.get(f"/jobs/{job_id}")
            items = job["items"]
            done = items["succeeded"] + items["failed"] + items["skipped"]
            rate = f"{items['items_per_second']} items/s" if items["items_per_second"] is not None else ""
            progress.update(bar, completed=done, total=items["total"],
                            description=f"{status_text(job['status'])} failed {items['failed']} {rate}")
            if job["status"] in FINAL_STATUSES:
                break
            if time.monotonic() + interval > deadline:
                progress.console.print(f"still {job['status']} after {timeout:.0f} s; stopped watching")
                return Exit.TIMEOUT
            time.sleep(interval)
    print_json(job) if as_json else print_job(job)
    if job["status"] == "COMPLETED" and job["items"]["failed"]:
        if not as_json:
            stderr().print(f"{job['items']['failed']} items failed: GET /jobs/{job_id}/items?status=failed lists them")
        return Exit.ITEMS_FAILED
    return exit_for_status(job["status"])
