"""A 10,000-item job over 4 worker slots while DynamoDB cancels 20% of its chunk finishes with TransactionConflict.

On real DynamoDB every chunk finish updates the same job item (its counters) in
a TransactWriteItems, so two finishes at once cancel each other with
TransactionConflict; the embedded DynamoDB serialises every request and never
does. The fault proxy answers as DynamoDB does: a chunk's finish is canceled
once with p = 0.2 (`repeat=1`: its retry goes through), nothing applied. A
conflict is contention, not a lost lease: every chunk must run to its end once
(one claim each, never abandoned and run again after its lease ran out), every
item run once with one committed effect, the counters exact, the job ended once.

2 worker processes x concurrency 2 (this machine has 2 cores).
"""

import time

import pytest

from tests.faults.checker import wait_terminal
from tests.faults.proxy import Rule
from tests.faults.scenario import close_items_with_check, elapsed, submit_items

ITEMS = 10_000
ENV = {"BATCHLAB_WORKER_CONCURRENCY": 2, "BATCHLAB_LEASE_SECONDS": 6, "BATCHLAB_VISIBILITY_TIMEOUT": 20,
       "BATCHLAB_STALE_QUEUED_SECONDS": 30}

pytestmark = pytest.mark.timeout(900)  # a hard stop over the waits below (600 s + 60 s), whatever hangs


def test_conflicts_on_20_percent_of_chunk_finishes_rerun_no_item(fault_stack):
    stack = fault_stack(workers=2, **ENV)
    started = time.monotonic()
    job_id = submit_items(stack, [{"v": i} for i in range(ITEMS)], chunk_size=100, payload={"sink": False})
    conflicts = Rule("conflict", 0.2, ops=("TransactWriteItems",), key={"JobId": job_id, "SK": "JOB"}, repeat=1)
    stack.dynamodb_proxy.set_rules(conflicts)
    wait_terminal(stack, [job_id], timeout=600)  # the rule stays on while the chunks finish
    title = f"item job, {ITEMS:,} items, 2 workers x 2, TransactionConflict on 20% of chunk finishes"
    verdict = close_items_with_check(stack, [job_id], title, timeout=60, extra={
        "chunk finishes canceled (TransactionConflict)": conflicts.fired, "seconds from submission": elapsed(started)})
    assert verdict.ok, verdict.table(title)
    assert verdict.by_status == {"COMPLETED": 1} and verdict.items_by_outcome == {"succeeded": ITEMS}, verdict.table(title)
    assert verdict.reclaimed_chunks == [] and verdict.rerun_items == [], verdict.table(title)
    assert verdict.item_runs == ITEMS, verdict.table(title)
    assert conflicts.fired >= 5, conflicts.fired  # ~20 of 100 finishes: the scenario did meet conflicts
