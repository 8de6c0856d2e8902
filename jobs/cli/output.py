"""How `batchlab` prints: JSON for scripts (`--json`), tables and lines for people (rich), errors on stderr."""

import argparse
import json
import sys
import uuid
from datetime import datetime

from rich.console import Console
from rich.table import Table

# Tables show ids as the page does, by their first 8 characters: a whole UUID folds over three lines
# of an 80-column terminal. Commands take whole ids (no lookup by prefix: the store has none that is cheap).
SHORT_ID = 8
SHORT_IDS = f"ids: their first {SHORT_ID} characters; --json has them whole"

STATUS_STYLE = {"SCHEDULED": "blue", "WAITING": "bright_black", "RUNNING": "yellow", "QUEUED": "cyan", "PROCESSING": "yellow", "COMPLETED": "green", "FAILED": "red", "CANCELED": "magenta"}


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(value) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def status_text(status: str | None) -> str:
    status = status or "?"
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def short_id(value: str | None) -> str:
    return (value or "")[:SHORT_ID]


def whole_id(value: str) -> str:
    """An argparse `type`: a whole id (a UUID), else a usage error that says where the whole ids are."""
    try:
        if str(uuid.UUID(value)) == value.lower() and len(value) == 36:
            return value
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"{value!r} is not a whole id (36 characters); tables show the first {SHORT_ID}: `batchlab list --json`"
        " or `batchlab schedules list --json` have them whole")


def time_text(iso: str | None) -> str:
    """An API time (UTC, RFC 3339) in local time, as the page shows it: the time of day today, else date and time."""
    if not iso:
        return ""
    try:
        at = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return iso
    return at.strftime("%H:%M:%S" if at.date() == datetime.now().astimezone().date() else "%Y-%m-%d %H:%M:%S")


def progress_text(job: dict) -> str:
    progress = job.get("progress") or {}
    return f"{progress.get('done', 0)}/{progress['total']}" if progress.get("total") else ""


def due_text(job: dict) -> str:
    """" due <time>" for a delayed job that has not started yet, else ""."""
    return f" due {job['run_at']}" if job.get("run_at") and job.get("status") in ("SCHEDULED", "QUEUED") else ""


def print_job(job: dict) -> None:
    """One job for a person: its fields, result or error, and timeline."""
    console = stdout()
    console.print(f"[bold]{job['id']}[/]  {job.get('name', '')}  ({job.get('type')})  {status_text(job.get('status'))}")
    fields = [("attempts", f"{job.get('attempts')}/{job.get('max_attempts')}"), ("progress", progress_text(job)),
              ("created", job.get("created_at")), ("due", job.get("run_at")), ("started", job.get("started_at")),
              ("finished", job.get("finished_at")), ("duration", job.get("duration_seconds")),
              ("expires", job.get("expires_at")), ("priority", job.get("priority")),
              ("waiting", job.get("waiting_for"))]
    for label, value in fields:
        if value not in (None, ""):
            console.print(f"  {label:<9} {value}")
    if job.get("error"):
        console.print(f"  [red]error[/]     {job['error'].get('code')}: {job['error'].get('message')}")
    if job.get("result") is not None:
        console.print("  result    " + json.dumps(job["result"], ensure_ascii=False)[:2000])
    for event in job.get("timeline") or []:
        console.print(f"    {timeline_line(event)}")


def timeline_line(event: dict) -> str:
    parts = [str(event.get("at") or ""), event.get("event") or ""]
    if event.get("status"):
        parts.append(status_text(event["status"]))
    if event.get("message"):
        parts.append(str(event["message"]))
    return "  ".join(parts)


def print_table(title: str | None, columns: list[str], rows: list[list], *, keep: tuple[str, ...] = ("id",)) -> None:
    """A table for people, as wide as the terminal: the columns in `keep` never fold, the others do."""
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in keep)
    for row in rows:
        table.add_row(*["" if cell is None else str(cell) for cell in row])
    stdout().print(table)


def print_error(message: str, body: dict | None = None, *, as_json: bool = False) -> None:
    """Errors go to stderr: the problem+json itself with --json, one readable line otherwise."""
    if as_json and body is not None:
        print(json.dumps(body, indent=2, ensure_ascii=False), file=sys.stderr)
        return
    console = stderr()
    console.print(f"[red]error:[/] {message}", markup=True)
    for field, problems in ((body or {}).get("errors") or {}).items():
        console.print(f"  {field}: {'; '.join(map(str, problems))}")
