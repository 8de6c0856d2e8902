"""How `batchlab` prints: JSON for scripts (`--json`), tables and lines for people (rich), errors on stderr."""

import json
import sys

from rich.console import Console
from rich.table import Table

STATUS_STYLE = {"SCHEDULED": "blue", "QUEUED": "cyan", "PROCESSING": "yellow", "COMPLETED": "green", "FAILED": "red", "CANCELED": "magenta"}


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(value) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def status_text(status: str | None) -> str:
    status = status or "?"
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


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


def print_table(title: str | None, columns: list[str], rows: list[list]) -> None:
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
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
