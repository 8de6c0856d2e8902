"""The seeded fault mix every chaos scenario shares, and the chaos thread that kills processes (-9) and restarts them.

`chaos_rules(scale)` returns the rules of both proxies: latency, resets, drops
and 500s on SQS; latency, lost answers (apply then fail), resets and drops on
DynamoDB, and DynamoDB's own contention: transactions canceled for
TransactionConflict, and the job items (the key every chunk finish and every
claim writes) throttled as hot keys. `kill_at_random` plays a machine dying and
its supervisor: every few seconds one process of a kind (workers, schedulers)
is killed with its whole group and started again. `chaos` does both for the
length of a `with` block.
"""

import contextlib
import random
import threading
from dataclasses import dataclass, field

from tests.e2e.helpers import child_pids, start_time
from tests.faults.proxy import Rule

WRITES = ("UpdateItem", "PutItem", "TransactWriteItems")
SQS_500 = b'{"__type":"com.amazonaws.sqs#InternalError","message":"We encountered an internal error."}'


def chaos_rules(scale: float) -> tuple[list[Rule], list[Rule]]:
    sqs = [
        Rule("latency", 0.05 * scale, seconds=0.2),
        Rule("reset", 0.01 * scale),
        Rule("drop", 0.01 * scale),
        Rule("error", 0.01 * scale, ops=("ReceiveMessage", "SendMessage", "DeleteMessage"), status=500, body=SQS_500),
    ]
    dynamodb = [
        Rule("conflict", 0.03 * scale, ops=("TransactWriteItems",)),
        Rule("throttle", 0.02 * scale, ops=WRITES, key={"SK": "JOB"}),
        Rule("latency", 0.05 * scale, seconds=0.1),
        Rule("apply_then_fail", 0.01 * scale, ops=WRITES),
        Rule("reset", 0.01 * scale),
        Rule("drop", 0.005 * scale),
    ]
    return sqs, dynamodb


def supervise(stack, exits: list, *, kind: str = "worker") -> None:
    """As systemd's Restart=always: a process of `kind` that exited by itself is recorded and started again."""
    for name, proc in list(stack.processes.items()):
        if name.startswith(kind) and proc.poll() is not None:
            exits.append((name, proc.returncode))
            stack.processes.pop(name)
            _restart(stack, kind, name)


def _restart(stack, kind: str, name: str) -> None:
    if kind == "worker":
        stack.restart_worker()
    else:
        stack.spawner.submit(stack.start_scheduler, name).result(timeout=60)


def kill_at_random(stack, strays, rng: random.Random, stop: threading.Event, every: tuple[float, float],
                   kills: list, exits: list, *, kind: str = "worker") -> None:
    """Until `stop`: every `every` seconds (drawn), kill -9 one live process of `kind` and its group, then start it again."""
    while not stop.wait(rng.uniform(*every)):
        supervise(stack, exits, kind=kind)
        live = sorted(n for n, p in stack.processes.items() if n.startswith(kind) and p.poll() is None)
        if not live:
            continue
        name = rng.choice(live)
        parent = stack.processes[name].pid
        strays.extend((pid, start_time(pid)) for pid in [parent, *child_pids(parent)] if start_time(pid))
        stack.kill_process(name)
        kills.append(name)
        _restart(stack, kind, name)


@dataclass
class Chaos:
    """What a chaos run did: processes killed (-9) and restarted, processes that exited by themselves."""

    kills: list = field(default_factory=list)
    exits: list = field(default_factory=list)


@contextlib.contextmanager
def chaos(stack, strays, *, every: tuple[float, float], kind: str = "worker", scale: float = 1.0):
    """The fault mix on both proxies and kills of `kind` every `every` seconds (seeded), while the block runs.

    The rules stay set after the block (close_with_check clears them); the kills stop.
    """
    rng = random.Random(stack.sqs_proxy.seed)
    sqs_rules, dynamodb_rules = chaos_rules(scale)
    stack.sqs_proxy.set_rules(*sqs_rules)
    stack.dynamodb_proxy.set_rules(*dynamodb_rules)
    record, stop = Chaos(), threading.Event()
    thread = threading.Thread(target=kill_at_random, args=(stack, strays, rng, stop, every, record.kills, record.exits),
                              kwargs={"kind": kind}, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        stop.set()
        thread.join(timeout=60)
