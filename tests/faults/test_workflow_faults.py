"""Workflows under the fault mix with kill -9: every release and every callback exactly once, judged from the stored history.

Both proxies inject the mixed faults (tests.faults.test_mixed) while a chaos
thread kills workers (-9) and starts new ones. On top of the mix: the releasing
writes (the transactions that carry "Released by the end of ...") are applied and
their answers lost, and acks (DeleteMessage) are dropped, so finished steps'
messages are delivered again. Then the faults stop and the check reads every
step: final once, released once if it ran (never if it did not), each effect
committed once, callbacks by the workflow's status, nothing stuck.
"""

import collections
import concurrent.futures
import random
import threading
import time
import uuid

import requests

from tests.faults.chaos import chaos_rules, kill_at_random
from tests.faults.checker import history_effects, history_jobs
from tests.faults.proxy import Rule
from tests.faults.scenario import api_token, elapsed
from tests.faults.test_mixed import ENV

FINAL = ("COMPLETED", "FAILED", "CANCELED")


def diamond(index: int) -> dict:
    """A → B, C → D (a collect), with every callback; each step's effect committed once, or never."""
    return {"name": f"diamond {index}", "steps": {
        "a": {"type": "effect", "payload": {"seconds": 0.1}},
        "b": {"type": "effect", "payload": {"seconds": 0.1}, "needs": ["a"]},
        "c": {"type": "effect", "payload": {"seconds": 0.1}, "needs": ["a"]},
        "d": {"type": "collect", "needs": ["b", "c"]}},
        "on_success": {"type": "effect"}, "on_failure": {"type": "effect"}, "on_complete": {"type": "effect"}}


def failing(index: int) -> dict:
    """A failing parent: its child is canceled (dependency_failed), a "continue" child runs, on_failure runs once."""
    return {"name": f"failing {index}", "steps": {
        "a": {"type": "fail", "payload": {"message": "boom"}},
        "b": {"type": "effect", "needs": ["a"]},
        "keep": {"type": "effect", "needs": ["a"], "on_parent_failure": "continue"}},
        "on_success": {"type": "effect"}, "on_failure": {"type": "effect"}, "on_complete": {"type": "effect"}}


def fan_in(width: int) -> dict:
    fan = {f"s{i:02d}": {"type": "effect", "payload": {"seconds": 0.05}} for i in range(width)}
    return {"name": f"fan-in {width}", "steps": {**fan, "all": {"type": "collect", "needs": sorted(fan)}},
            "on_complete": {"type": "effect"}}


def submit_all(stack, bodies: list[dict]) -> list[str]:
    """POST /workflows each body as a client would under faults: the same Idempotency-Key until it is answered 2xx."""
    headers = {"Authorization": f"Token {api_token(stack)}"}

    def one(body: dict) -> str | None:
        key = uuid.uuid4().hex
        for _ in range(30):
            try:
                response = requests.post(f"{stack.web_url}/workflows", json=body, timeout=60,
                                         headers={**headers, "Idempotency-Key": key})
            except requests.RequestException:
                continue
            if response.status_code in (200, 201):
                return response.json()["id"]
            assert response.status_code in (500, 502, 503, 504), response.text
            time.sleep(0.5)
        return None

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return [wid for wid in pool.map(one, bodies) if wid]


def workflows_read(stack, ids: list[str]) -> dict[str, dict]:
    headers = {"Authorization": f"Token {api_token(stack)}"}
    return {wid: requests.get(f"{stack.web_url}/workflows/{wid}", headers=headers, timeout=30).json() for wid in ids}


def settled(stack, ids: list[str], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            seen = workflows_read(stack, ids)
        except requests.RequestException:
            seen = {}
        if len(seen) == len(ids) and all(w["status"] in FINAL and w["steps_done"] == len(w["steps"]) for w in seen.values()):
            break
        time.sleep(2)
    return time.monotonic() - started


def released_counts(stack) -> dict[str, int]:
    """Job id -> how many "released" events its timeline holds (read from moto directly, as the checker does)."""
    import boto3

    client = boto3.client("dynamodb", endpoint_url=stack.dynamodb_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    counts = {}
    for page in client.get_paginator("scan").paginate(TableName=stack.extra_env.get("BATCHLAB_TABLE_NAME", "batchlab-jobs"),
                                                         ConsistentRead=True):
        for item in page["Items"]:
            if "WorkflowId" in item and "Status" in item:
                events = [e["M"]["Event"]["S"] for e in item.get("Timeline", {}).get("L", [])]
                counts[item["JobId"]["S"]] = events.count("released")
    return counts


def judge(workflows: dict[str, dict], jobs: dict, effects: dict, released: dict) -> dict:
    problems = collections.defaultdict(list)
    for wid, wf in workflows.items():
        failing_one = wf["name"].startswith("failing")
        expected = "FAILED" if failing_one else "COMPLETED"
        if wf["status"] != expected:
            problems["workflow status"].append((wid, wf["status"]))
        for step in wf["steps"]:
            job_id, name = step["job_id"], step["name"]
            job = jobs.get(job_id)
            label = (wf["name"], name)
            if job is None or job["status"] not in FINAL:
                problems["stuck"].append(label)
                continue
            if job["terminal_events"] != 1:
                problems["not final exactly once"].append((label, job["terminal_events"]))
            ran = job["status"] in ("COMPLETED", "FAILED")
            if released.get(job_id, 0) != (1 if ran else 0):
                problems["not released exactly once"].append((label, job["status"], released.get(job_id)))
            if job["type"] == "effect" and effects.get(job_id, 0) != (1 if job["status"] == "COMPLETED" else 0):
                problems["effect not exactly once"].append((label, job["status"], effects.get(job_id, 0)))
        by = {s["name"]: s["status"] for s in wf["steps"]}
        callbacks = {"on_success": expected == "COMPLETED", "on_failure": expected == "FAILED", "on_complete": True}
        for name, runs in callbacks.items():
            if name in by and by[name] != ("COMPLETED" if runs else "CANCELED"):
                problems["callback"].append((wf["name"], name, by[name]))
        if failing_one and (by["b"], by["keep"]) != ("CANCELED", "COMPLETED"):
            problems["failure policy"].append((wf["name"], by["b"], by["keep"]))
    return dict(problems)


def test_workflows_release_and_call_back_exactly_once_under_faults_and_kills(fault_stack, strays):
    stack = fault_stack(workers=2, **ENV)
    rng = random.Random(stack.sqs_proxy.seed)
    sqs_rules, dynamodb_rules = chaos_rules(1.0)
    releasing = Rule("apply_then_fail", 0.25, ops=("TransactWriteItems",), contains=b"Released by the end of")
    acks_lost = Rule("drop", 0.2, ops=("DeleteMessage", "DeleteMessageBatch"))
    stack.sqs_proxy.set_rules(acks_lost, *sqs_rules)
    stack.dynamodb_proxy.set_rules(releasing, *dynamodb_rules)
    stop, kills, exits = threading.Event(), [], []
    chaos = threading.Thread(target=kill_at_random, args=(stack, strays, rng, stop, (5, 9), kills, exits),
                             daemon=True)
    started = time.monotonic()
    chaos.start()
    try:
        bodies = [diamond(i) for i in range(8)] + [failing(i) for i in range(3)] + [fan_in(20)]
        ids = submit_all(stack, bodies)
        time.sleep(20)  # faults and kills go on while the steps run
    finally:
        stop.set()
        chaos.join(timeout=30)
    faults_seconds = elapsed(started)
    stack.clear_faults()
    waited = settled(stack, ids, timeout=300)
    workflows = workflows_read(stack, ids)
    problems = judge(workflows, history_jobs(stack), history_effects(stack), released_counts(stack))
    injected = stack.injected()
    steps = sum(len(w["steps"]) for w in workflows.values())
    print(f"\n== workflows under faults: {len(ids)} of {len(bodies)} workflows acknowledged, {steps} steps;"
          f" {faults_seconds} s under faults, {len(kills)} workers killed (-9), settled {waited:.0f} s after;"
          f" releasing writes applied with their answers lost: {releasing.fired}; acks dropped: {acks_lost.fired};"
          f" injected {injected}; problems {problems}", flush=True)
    assert len(ids) == len(bodies)
    assert not exits, f"workers exited by themselves (name, exit code): {exits}"
    assert not problems, problems
    assert releasing.fired > 0 and acks_lost.fired > 0  # the faults this scenario is about did happen
