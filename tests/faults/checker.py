"""The history checker: after a fault run, read every job, the effect sink and both queues, and judge.

It reads the moto servers directly (never through a fault proxy). A job item is
any item of the jobs table with a Status and a Type (so a sort key or other item
kinds in that table do not confuse it). The verdict, for the jobs whose
submission was acknowledged (201):

- terminal, by status; and the jobs whose timeline records more than one terminal event;
- lost: acknowledged, no item, or not terminal with no message left in either queue;
- duplicated: more than one committed effect in the sink for one job;
- missing effect: an `effect` job COMPLETED with no committed effect;
- stuck: not terminal at the end of the recovery window;
- messages left in the queue and the dead-letter queue.
"""

import collections
import time
from dataclasses import dataclass, field

import boto3

from devstack.launcher import EmbeddedStack

FINAL = ("COMPLETED", "FAILED", "CANCELED")
# A plain job's terminal timeline events, and an item job's (the transitions' names).
TERMINAL_EVENTS = ("completed", "failed", "canceled", "finish_items", "fail_items", "stop_items")


def _client(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _scan(client, table: str) -> list[dict]:
    items = []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items += page["Items"]
    return items


def scan(stack: EmbeddedStack, table: str) -> list[dict]:
    """Every item of `table` on the stack's DynamoDB (moto itself, not through a proxy), consistent."""
    return _scan(_client("dynamodb", stack.dynamodb_endpoint), table)


def render(title: str, rows: list[tuple[str, object]], examples: dict[str, list]) -> str:
    """A checker's table: one figure a row, then up to 10 examples of each kind of finding."""
    width = max(len(r[0]) for r in rows)
    lines = [f"== history check: {title}"] + [f"  {name.ljust(width)}  {value}" for name, value in rows]
    lines += [f"  {label}: {ids[:10]}" for label, ids in examples.items() if ids]
    return "\n".join(lines)


@dataclass
class Verdict:
    acknowledged: int = 0
    by_status: dict = field(default_factory=dict)
    lost: list = field(default_factory=list)
    duplicated: list = field(default_factory=list)
    double_terminal: list = field(default_factory=list)
    missing_effect: list = field(default_factory=list)
    stuck: list = field(default_factory=list)
    messages: dict = field(default_factory=dict)
    effects: int = 0
    reclaimed: list = field(default_factory=list)  # attempts > 1: a redelivery, a retry or a takeover
    extra: dict = field(default_factory=dict)  # scenario figures: faults by kind, times

    def table(self, title: str) -> str:
        rows = [("submitted and acknowledged", self.acknowledged)]
        rows += [(f"terminal: {s}", self.by_status.get(s, 0)) for s in FINAL]
        rows += [("not terminal", sum(v for s, v in self.by_status.items() if s not in FINAL))]
        rows += [("lost", len(self.lost)), ("duplicated effects", len(self.duplicated)),
                 ("more than one terminal event", len(self.double_terminal)),
                 ("completed without its effect", len(self.missing_effect)), ("stuck", len(self.stuck)),
                 ("effects committed", self.effects), ("jobs claimed more than once", len(self.reclaimed))]
        rows += [(f"messages left: {q}", n) for q, n in self.messages.items()]
        rows += [(k, v) for k, v in self.extra.items()]
        return render(title, rows, {label: getattr(self, label)
                                    for label in ("lost", "duplicated", "double_terminal", "missing_effect", "stuck")})

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.double_terminal or self.missing_effect or self.stuck)


def history_jobs(stack: EmbeddedStack) -> dict[str, dict]:
    """Job id -> {status, type, attempts, terminal events} for every job item."""
    client = _client("dynamodb", stack.dynamodb_endpoint)
    jobs = {}
    for item in _scan(client, stack.extra_env.get("BATCHLAB_TABLE_NAME", "batchlab-jobs")):
        if "Status" not in item or "Type" not in item:
            continue
        events = [e["M"]["Event"]["S"] for e in item.get("Timeline", {}).get("L", [])]
        jobs[item["JobId"]["S"]] = {
            "status": item["Status"]["S"], "type": item["Type"]["S"],
            "attempts": int(item.get("Attempts", {}).get("N", 0)),
            "terminal_events": sum(1 for e in events if e in TERMINAL_EVENTS),
        }
    return jobs


def history_effects(stack: EmbeddedStack, *, items: bool = False) -> dict[str, int]:
    """Committed effects by sink id: jobs' (their id), or with `items` the items' (`<job id>#L<line>`)."""
    client = _client("dynamodb", stack.dynamodb_endpoint)
    counts: dict[str, int] = collections.Counter()
    for item in _scan(client, stack.extra_env.get("BATCHLAB_EFFECT_SINK_TABLE", "batchlab-test-effects")):
        sink_id = item["JobId"]["S"]
        if ("#L" in sink_id) == items:
            counts[sink_id] += 1
    return counts


def queue_messages(stack: EmbeddedStack) -> dict[str, int]:
    client = _client("sqs", stack.sqs_endpoint)
    out = {}
    # One queue per priority, each with its dead-letter queue.
    for name in [f"batchlab-jobs{p}{d}" for p in ("-high", "", "-low") for d in ("", "-dlq")]:
        url = client.get_queue_url(QueueName=name)["QueueUrl"]
        attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        out[name] = sum(int(attrs[k]) for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                                "ApproximateNumberOfMessagesDelayed"))
    return out


def history_check(stack: EmbeddedStack, acknowledged: list[str]) -> Verdict:
    jobs, effects, messages = history_jobs(stack), history_effects(stack), queue_messages(stack)
    verdict = Verdict(acknowledged=len(acknowledged), messages=messages, effects=sum(effects.values()))
    verdict.by_status = dict(collections.Counter(jobs[j]["status"] for j in acknowledged if j in jobs))
    no_message = sum(messages.values()) == 0
    for job_id in acknowledged:
        job = jobs.get(job_id)
        if job is None:
            verdict.lost.append(job_id)
            continue
        final = job["status"] in FINAL
        if not final:
            verdict.stuck.append(job_id)
            if no_message:
                verdict.lost.append(job_id)
        if job["attempts"] > 1:
            verdict.reclaimed.append(job_id)
        if effects.get(job_id, 0) > 1:
            verdict.duplicated.append(job_id)
        if job["terminal_events"] > 1:
            verdict.double_terminal.append(job_id)
        if job["type"] == "effect" and job["status"] == "COMPLETED" and not effects.get(job_id):
            verdict.missing_effect.append(job_id)
    return verdict


def wait_terminal(stack: EmbeddedStack, acknowledged: list[str], *, timeout: float, interval: float = 2) -> float:
    """Wait (bounded) until every acknowledged job is terminal; returns the seconds waited."""
    started = time.monotonic()
    wanted = set(acknowledged)
    while time.monotonic() - started < timeout:
        jobs = history_jobs(stack)
        if all(jobs.get(j, {}).get("status") in FINAL for j in wanted):
            break
        time.sleep(interval)
    return time.monotonic() - started
