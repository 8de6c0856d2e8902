"""What the benchmark measures with: percentiles, API timestamps, and CPU per process tree from /proc."""

import os
from datetime import datetime

CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def parse_time(value: str | None) -> float | None:
    """An API timestamp ("2026-11-23T16:51:45.123456Z") as seconds since the epoch."""
    return datetime.fromisoformat(value).timestamp() if value else None


# --- Reading processes (I/O) -------------------------------------------------------------


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


def peak_rss_mb(roots: list[int]) -> float:
    """The largest peak resident set (VmHWM) of any live process in the trees under `roots`, in MB."""
    peak = 0
    for pid, _ in group_cpu_ticks(process_table(), roots):
        try:
            with open(f"/proc/{pid}/status") as status:
                line = next((x for x in status if x.startswith("VmHWM:")), "VmHWM: 0 kB")
        except OSError:
            continue
        peak = max(peak, int(line.split()[1]))
    return round(peak / 1024, 1)
