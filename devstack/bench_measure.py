"""What the benchmark measures: percentiles, moto requests counted in its logs, CPU per process tree, idle gaps."""

import os
import re
import resource
import time
from datetime import datetime
from pathlib import Path

from devstack.launcher import EmbeddedStack

CLK_TCK = os.sysconf("SC_CLK_TCK")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# werkzeug's access line: 127.0.0.1 - - [23/Nov/2026 16:51:45] "POST / HTTP/1.1" 200 -
REQUEST_LINE = re.compile(r'^\S+ - - \[[^\]]*\] "[A-Z]+ \S+ HTTP/[\d.]+" \d{3} ', re.MULTILINE)


# --- Pure helpers -------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (0..100) with linear interpolation between ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def count_request_lines(text: str) -> int:
    """How many HTTP requests a moto (werkzeug) log text records: one access line per request."""
    return len(REQUEST_LINE.findall(ANSI.sub("", text)))


def parse_time(value: str | None) -> float | None:
    """An API timestamp ("2026-11-23T16:51:45.123456Z") as seconds since the epoch."""
    return datetime.fromisoformat(value).timestamp() if value else None


def idle_gap_seconds(busy: list[tuple[float, float]], start: float, end: float) -> list[float]:
    """The lengths of the parts of [start, end] that no (begin, finish) interval covers."""
    gaps, cursor = [], start
    for begin, finish in sorted(busy):
        if begin > cursor:
            gaps.append(min(begin, end) - cursor)
        cursor = max(cursor, finish)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append(end - cursor)
    return [g for g in gaps if g > 0]


# --- Reading processes and logs (I/O) -------------------------------------------------


def process_table() -> dict[int, tuple[int, int, int]]:
    """Every process now: pid -> (ppid, start time, utime + stime in clock ticks), from /proc/<pid>/stat."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                # The command name may hold spaces and parentheses: split after its last ")".
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # exited while we looked
        table[int(entry.name)] = (int(fields[1]), int(fields[19]), int(fields[11]) + int(fields[12]))
    return table


def group_cpu_ticks(table: dict, roots: list[int]) -> dict[tuple[int, int], int]:
    """CPU ticks of each live process in the trees under `roots`, keyed by (pid, start time)."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    ticks, todo = {}, [r for r in roots if r in table]
    while todo:
        pid = todo.pop()
        _, started, cpu = table[pid]
        ticks[(pid, started)] = cpu
        todo.extend(children.get(pid, []))
    return ticks


def process_groups(stack: EmbeddedStack) -> dict[str, list[int]]:
    names = stack.processes
    return {
        "web": [names["web"].pid],
        "workers": [p.pid for n, p in names.items() if n.startswith("worker")],
        "moto-sqs": [names["moto-sqs"].pid],
        "moto-dynamodb": [names["moto-dynamodb"].pid],
    }


def cpu_sample(groups: dict[str, list[int]]) -> dict[str, dict]:
    table = process_table()
    return {name: group_cpu_ticks(table, roots) for name, roots in groups.items()}


def cpu_seconds(before: dict, after: dict) -> dict[str, float]:
    """CPU used between two samples per group; a process that exited in between is not counted."""
    used = {}
    for name, now in after.items():
        ticks = sum(cpu - before[name].get(key, 0) for key, cpu in now.items())
        used[name] = ticks / CLK_TCK
    return used


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def log_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def requests_since(path: Path, offset: int) -> int:
    """Moto request lines written to `path` after byte `offset`."""
    with open(path, "rb") as log:
        log.seek(offset)
        return count_request_lines(log.read().decode("utf-8", "replace"))


def measure_idle(stack: EmbeddedStack, seconds: float) -> dict:
    """SQS and DynamoDB requests per second with no jobs in flight: the stack's idle cost."""
    logs = {svc: stack.log_dir / f"moto-{svc}.log" for svc in ("sqs", "dynamodb")}
    offsets = {svc: log_size(path) for svc, path in logs.items()}
    time.sleep(seconds)
    return {svc: requests_since(path, offsets[svc]) / seconds for svc, path in logs.items()}

