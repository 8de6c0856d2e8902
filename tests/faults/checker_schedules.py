"""The history checker for schedules: each due time acted on once, none missing in the window, each run's job made once and final.

It reads the moto server directly: the schedule items, their run log entries
(`RUN#…` in the schedule log table) and the jobs table. For each interval
schedule, the window is every due time from its first (given by the test: the
creation's `next_run_at`) up to its NextRunAt at the end, exclusive: NextRunAt
moves only when a scheduler claims a due time, so every due time before it must
have exactly one run entry (fired, skipped, or failed after its attempts; a
queue_one hold counts when its release fires it),
or be counted in a later entry's `missed` (a catch-up after no scheduler ran,
fired once by design). The verdict:

- due times acted on twice (two entries, or a fired entry and a catch-up over it);
- due times missing (no entry covers them);
- fired runs whose job does not exist, jobs of the schedule that no fired run
  names (a second job for a due time), fired runs whose job is not final;
- firings still pending (a claimed due time whose job is not recorded).
"""

import collections
from dataclasses import dataclass, field

from devstack.launcher import EmbeddedStack
from tests.faults.checker import FINAL, render, scan


@dataclass
class ScheduleVerdict:
    schedules: int = 0
    due_times: int = 0
    outcomes: dict = field(default_factory=dict)
    missed: int = 0  # caught up by a later firing (no scheduler ran): by design, counted apart
    twice: list = field(default_factory=list)  # (schedule, due)
    missing: list = field(default_factory=list)  # (schedule, due)
    jobless_runs: list = field(default_factory=list)  # (schedule, due, job id)
    orphan_jobs: list = field(default_factory=list)  # job ids
    unfinished_jobs: list = field(default_factory=list)  # job ids not final
    pending: list = field(default_factory=list)  # schedule ids
    run_jobs: dict = field(default_factory=dict)  # job id -> type ("item" or "plain")
    extra: dict = field(default_factory=dict)

    def table(self, title: str) -> str:
        rows = [("schedules", self.schedules), ("due times in the window", self.due_times),
                *[(f"runs {k}", v) for k, v in sorted(self.outcomes.items())],
                ("due times caught up (missed, fired once)", self.missed),
                ("due times acted on twice", len(self.twice)), ("due times missing", len(self.missing)),
                ("fired runs without their job", len(self.jobless_runs)),
                ("jobs no fired run names", len(self.orphan_jobs)),
                ("run jobs not final", len(self.unfinished_jobs)), ("firings still pending", len(self.pending))]
        rows += list(self.extra.items())
        return render(title, rows, {"twice": self.twice, "missing": self.missing, "jobless_runs": self.jobless_runs,
                                    "orphan_jobs": self.orphan_jobs, "unfinished_jobs": self.unfinished_jobs,
                                    "pending": self.pending})

    @property
    def ok(self) -> bool:
        return not (self.twice or self.missing or self.jobless_runs or self.orphan_jobs or self.unfinished_jobs or self.pending)


def _n(item: dict, name: str) -> int | None:
    return int(item[name]["N"]) if name in item else None


def schedule_history_check(stack: EmbeddedStack, first_due: dict[str, int]) -> ScheduleVerdict:
    """Judge the schedules `first_due` names (schedule id -> its first due time, epoch seconds)."""
    env = stack.extra_env
    schedules = {i["ScheduleId"]["S"]: i for i in scan(stack, env.get("BATCHLAB_SCHEDULES_TABLE_NAME", "batchlab-schedules"))}
    runs = collections.defaultdict(list)
    for entry in scan(stack, env.get("BATCHLAB_SCHEDULE_LOG_TABLE_NAME", "batchlab-schedule-log")):
        if entry["SK"]["S"].startswith("RUN#"):
            runs[entry["ScheduleId"]["S"]].append(entry)
    jobs = {}
    for item in scan(stack, env.get("BATCHLAB_TABLE_NAME", "batchlab-jobs")):
        if item.get("SK", {}).get("S") == "JOB" and "ScheduleId" in item:
            jobs[item["JobId"]["S"]] = item
    verdict = ScheduleVerdict(schedules=len(first_due))
    for schedule_id, first in first_due.items():
        schedule = schedules[schedule_id]
        interval, end = _n(schedule, "IntervalSeconds"), _n(schedule, "NextRunAt")
        if "PendingKind" in schedule:
            verdict.pending.append(schedule_id)
        window = list(range(int(first), int(end), int(interval)))
        verdict.due_times += len(window)
        covered = collections.Counter()
        named = set()
        for entry in runs[schedule_id]:
            due, outcome = _n(entry, "DueAt"), entry["Outcome"]["S"]
            missed = _n(entry, "Missed") or 0
            verdict.outcomes[outcome] = verdict.outcomes.get(outcome, 0) + 1
            if outcome in ("manual", "held"):
                continue  # run by hand; or held by queue_one until its release, which logs it fired
            verdict.missed += missed
            for k in range(missed + 1):
                covered[due - k * interval] += 1
            if outcome == "fired":
                job_id = entry["JobId"]["S"]
                named.add(job_id)
                job = jobs.get(job_id)
                if job is None:
                    verdict.jobless_runs.append((schedule_id, due, job_id))
                    continue
                verdict.run_jobs[job_id] = "item" if "ChunksTotal" in job else "plain"
                if job["Status"]["S"] not in FINAL:
                    verdict.unfinished_jobs.append(job_id)
        verdict.twice += [(schedule_id, due) for due, n in sorted(covered.items()) if n > 1]
        verdict.missing += [(schedule_id, due) for due in window if not covered[due]]
        verdict.orphan_jobs += [j for j, job in jobs.items() if job["ScheduleId"]["S"] == schedule_id and j not in named]
    return verdict
