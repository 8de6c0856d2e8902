"""The history checker for item jobs: every item's outcome recorded once, counters exact, each job ended once, no chunk stuck.

It reads the moto servers directly (never through a fault proxy): the job and
chunk items of the jobs table, chunk outcomes in S3 when they live there, the
item effects of the fenced sink (tests/faults/effect_sink.py) and the run log
(one line per item run, with the claim it ran under). For the acknowledged item
jobs:

- terminal by status; more than one terminal event in a job's timeline;
- counters wrong: ItemsSucceeded + ItemsFailed + ItemsSkipped != ItemsTotal on a
  finished job, the job's counters != the sum of its chunks' counters or of the
  chunks' recorded outcomes, or ChunksDone != ChunksTotal;
- stuck chunks (PENDING or PROCESSING at the end), items of a finished chunk with
  no outcome;
- items whose effect was committed more than once (fencing failed), `effect`
  items that succeeded with no committed effect;
- and, not faults in themselves under kill -9 (a killed chunk's items run again
  under its next claim), what the scenarios judge: chunks claimed more than once
  (each extra claim is a run not ended by its own finish), items run again under
  another claim, and item runs tried again under the same claim (a transient
  error of the handler: the runner's own item retries).
"""

import collections
import json
from dataclasses import dataclass, field
from pathlib import Path

from devstack.launcher import EmbeddedStack
from tests.faults.checker import FINAL, TERMINAL_EVENTS, _client, history_effects, queue_messages, render, scan


@dataclass
class ItemVerdict:
    jobs: int = 0
    by_status: dict = field(default_factory=dict)
    items_total: int = 0
    items_by_outcome: dict = field(default_factory=dict)
    chunks: int = 0
    lost: list = field(default_factory=list)  # acknowledged, no job item
    stuck: list = field(default_factory=list)  # job not final
    double_terminal: list = field(default_factory=list)
    wrong_counters: list = field(default_factory=list)  # (job id, what)
    stuck_chunks: list = field(default_factory=list)  # job#n
    missing_outcomes: list = field(default_factory=list)  # job#Lline of a finished chunk
    duplicated_effects: list = field(default_factory=list)  # job#Lline
    missing_effects: list = field(default_factory=list)
    # Failed because no outcome of theirs was kept in any attempt of a chunk given up (its workers died), while one of
    # those attempts committed their effect: at-least-once's known limit, counted, not a violation.
    given_up_with_effect: list = field(default_factory=list)
    failed_with_effect: list = field(default_factory=list)  # failed for any other reason, yet an effect: a violation
    reclaimed_chunks: list = field(default_factory=list)  # job#n with attempts > 1
    extra_claims: int = 0
    rerun_items: list = field(default_factory=list)  # job#Lline run under more than one claim of its chunk
    item_runs: int = 0
    item_retries: int = 0  # runs of an item tried again under the same claim (its handler raised a transient error)
    effects: int = 0
    messages: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def table(self, title: str) -> str:
        rows = [("item jobs submitted and acknowledged", self.jobs)]
        rows += [(f"terminal: {s}", self.by_status.get(s, 0)) for s in FINAL]
        rows += [("not terminal", len(self.stuck)), ("lost", len(self.lost)),
                 ("more than one terminal event", len(self.double_terminal)),
                 ("counters not exact", len(self.wrong_counters)),
                 ("items", self.items_total),
                 *[(f"items {k}", v) for k, v in sorted(self.items_by_outcome.items())],
                 ("items of finished chunks without an outcome", len(self.missing_outcomes)),
                 ("chunks", self.chunks), ("chunks stuck (PENDING/PROCESSING)", len(self.stuck_chunks)),
                 ("item effects committed", self.effects),
                 ("items with more than one effect", len(self.duplicated_effects)),
                 ("items succeeded without their effect", len(self.missing_effects)),
                 ("items failed with their chunk given up, their effect committed", len(self.given_up_with_effect)),
                 ("items failed otherwise, an effect committed", len(self.failed_with_effect)),
                 ("chunks claimed more than once", len(self.reclaimed_chunks)),
                 ("chunk claims not ended by their own finish", self.extra_claims),
                 ("item runs", self.item_runs), ("item runs tried again under the same claim", self.item_retries),
                 ("items run again under another claim", len(self.rerun_items))]
        rows += [(f"messages left: {q}", n) for q, n in self.messages.items()]
        rows += list(self.extra.items())
        return render(title, rows, {
            "lost": self.lost, "stuck": self.stuck, "double_terminal": self.double_terminal,
            "wrong_counters": self.wrong_counters, "stuck_chunks": self.stuck_chunks,
            "missing_outcomes": self.missing_outcomes, "duplicated_effects": self.duplicated_effects,
            "missing_effects": self.missing_effects, "failed_with_effect": self.failed_with_effect, "reclaimed_chunks": self.reclaimed_chunks,
            "rerun_items": self.rerun_items,
        })

    @property
    def ok(self) -> bool:
        """Nothing lost, doubled or left behind (items run again after a kill are not a fault)."""
        return not (self.lost or self.stuck or self.double_terminal or self.wrong_counters or self.stuck_chunks
                    or self.missing_outcomes or self.duplicated_effects or self.missing_effects or self.failed_with_effect)


def _number(item: dict, name: str) -> int:
    return int(item.get(name, {}).get("N", 0))


def _outcomes(stack: EmbeddedStack, chunk: dict) -> list:
    if "OutcomesObject" in chunk:
        bucket = stack.extra_env.get("BATCHLAB_BUCKET", "batchlab-items")
        body = _client("s3", stack.sqs_endpoint).get_object(Bucket=bucket, Key=chunk["OutcomesObject"]["S"])["Body"]
        return json.loads(body.read())
    return json.loads(chunk["Outcomes"]["S"]) if "Outcomes" in chunk else []


def item_runs(stack: EmbeddedStack) -> dict[str, list[str]]:
    """`<job id>#L<line>` -> the claim tokens it ran under, one per run (the `effect` item type's run log lines)."""
    path = Path(stack.extra_env["BATCHLAB_RUN_LOG"])
    runs: dict[str, list[str]] = collections.defaultdict(list)
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "item" and "#L" in parts[0]:
                runs[parts[0]].append(parts[2])
    return runs


def _counts(outcomes: list) -> tuple[int, int, int]:
    return tuple(sum(1 for o in outcomes if o and key in o) for key in ("r", "e", "s"))


# The codes of the items of a chunk given up with no outcome kept for them (jobs.services.items.runner, recovery).
GIVEN_UP_CODES = ("chunk_attempts_exhausted", "worker_lost")


def _check_job(verdict: ItemVerdict, stack, job_id: str, job: dict, chunks: list[dict], effects: dict, runs: dict) -> None:
    status = job["Status"]["S"]
    if status not in FINAL:
        verdict.stuck.append(job_id)
    events = [e["M"]["Event"]["S"] for e in job.get("Timeline", {}).get("L", [])]
    if sum(1 for e in events if e in TERMINAL_EVENTS) > 1:
        verdict.double_terminal.append(job_id)
    total = _number(job, "ItemsTotal")
    verdict.items_total += total
    counters = tuple(_number(job, k) for k in ("ItemsSucceeded", "ItemsFailed", "ItemsSkipped"))
    if status in ("COMPLETED", "FAILED") and sum(counters) != total:
        verdict.wrong_counters.append((job_id, f"{counters} do not add up to ItemsTotal {total}"))
    if status in ("COMPLETED", "FAILED") and _number(job, "ChunksDone") != _number(job, "ChunksTotal"):
        verdict.wrong_counters.append((job_id, f"ChunksDone {_number(job, 'ChunksDone')} of {_number(job, 'ChunksTotal')}"))
    sinks = job["Type"]["S"] == "effect" and json.loads(job.get("Payload", {}).get("S", "{}")).get("sink", True)
    chunk_sum, outcome_sum = [0, 0, 0], [0, 0, 0]
    for chunk in chunks:
        label = f"{job_id}#{_number(chunk, 'ChunkNumber')}"
        verdict.chunks += 1
        if chunk["ChunkStatus"]["S"] in ("PENDING", "PROCESSING"):
            verdict.stuck_chunks.append(label)
        if _number(chunk, "Attempts") > 1:
            verdict.reclaimed_chunks.append(label)
            verdict.extra_claims += _number(chunk, "Attempts") - 1
        outcomes = _outcomes(stack, chunk)
        first = _number(chunk, "FirstLine")
        for i, outcome in enumerate(outcomes):
            item = f"{job_id}#L{first + i}"
            kind = "not run" if not outcome else {"r": "succeeded", "e": "failed", "s": "skipped"}[next(iter(outcome.keys() & {"r", "e", "s"}))]
            verdict.items_by_outcome[kind] = verdict.items_by_outcome.get(kind, 0) + 1
            if not outcome and chunk["ChunkStatus"]["S"] == "DONE":
                verdict.missing_outcomes.append(item)
            if sinks and outcome and "r" in outcome and not effects.get(item):
                verdict.missing_effects.append(item)
            if sinks and outcome and "e" in outcome and effects.get(item):
                given_up = outcome["e"].get("code") in GIVEN_UP_CODES
                (verdict.given_up_with_effect if given_up else verdict.failed_with_effect).append(item)
        for i, value in enumerate((_number(chunk, "Succeeded"), _number(chunk, "Failed"), _number(chunk, "Skipped"))):
            chunk_sum[i] += value
        for i, value in enumerate(_counts(outcomes)):
            outcome_sum[i] += value
    if len(chunks) != _number(job, "ChunksTotal"):
        verdict.wrong_counters.append((job_id, f"{len(chunks)} chunk items for ChunksTotal {_number(job, 'ChunksTotal')}"))
    if status in ("COMPLETED", "FAILED") and not (tuple(chunk_sum) == tuple(outcome_sum) == counters):
        verdict.wrong_counters.append((job_id, f"job {counters}, chunks {tuple(chunk_sum)}, outcomes {tuple(outcome_sum)}"))
    for item, count in effects.items():
        if item.startswith(f"{job_id}#L") and count > 1:
            verdict.duplicated_effects.append(item)
    for item, tokens in runs.items():
        if item.startswith(f"{job_id}#L"):
            verdict.item_runs += len(tokens)
            verdict.item_retries += len(tokens) - len(set(tokens))
            if len(set(tokens)) > 1:
                verdict.rerun_items.append(item)


def item_history_check(stack: EmbeddedStack, acknowledged: list[str]) -> ItemVerdict:
    """Judge the acknowledged item jobs (see the module docstring); read once the run has settled."""
    table = stack.extra_env.get("BATCHLAB_TABLE_NAME", "batchlab-jobs")
    jobs, chunks = {}, collections.defaultdict(list)
    for item in scan(stack, table):
        sk = item.get("SK", {}).get("S", "")
        if sk == "JOB" and "ChunksTotal" in item:
            jobs[item["JobId"]["S"]] = item
        elif sk.startswith("CHUNK#"):
            chunks[item["JobId"]["S"]].append(item)
    effects, runs = history_effects(stack, items=True), item_runs(stack)
    verdict = ItemVerdict(jobs=len(acknowledged), messages=queue_messages(stack))
    wanted = set(acknowledged)
    verdict.effects = sum(n for item, n in effects.items() if item.split("#L")[0] in wanted)
    for job_id in acknowledged:
        job = jobs.get(job_id)
        if job is None:
            verdict.lost.append(job_id)
            continue
        verdict.by_status[job["Status"]["S"]] = verdict.by_status.get(job["Status"]["S"], 0) + 1
        _check_job(verdict, stack, job_id, job, sorted(chunks[job_id], key=lambda c: _number(c, "ChunkNumber")), effects, runs)
    return verdict
