"""Many jobs under a seeded mix of faults on both endpoints while workers are killed (-9) and restarted.

Both proxies add latency, reset connections, drop requests and (SQS) answer
500s; DynamoDB also applies some writes and loses their answers, cancels
transactions for TransactionConflict and throttles the job items (the fault mix
of tests/faults/chaos.py). A chaos thread kills a random worker's whole process
group every few seconds and starts a new one, as a supervisor would. Then the faults stop and the checker judges
the history: lost 0, duplicated effects 0, stuck 0, one terminal event per job.
The short run is in `make test`; the 1,000-job run in `make test-faults`.
"""

import time

import pytest

from tests.faults.chaos import chaos
from tests.faults.scenario import close_with_check, elapsed, submit_many

ENV = {"BATCHLAB_VISIBILITY_TIMEOUT": 10, "BATCHLAB_MAX_JOB_SECONDS": 8, "BATCHLAB_LEASE_SECONDS": 4,
       "BATCHLAB_STALE_QUEUED_SECONDS": 5, "BATCHLAB_MAX_RECEIVE_COUNT": 10}


def run_mixed(fault_stack, strays, *, jobs: int, scale: float, every: tuple[float, float], title: str,
              settle: float = 240, **env):
    stack = fault_stack(workers=2, **{**ENV, **env})
    started = time.monotonic()
    with chaos(stack, strays, every=every, scale=scale) as record:
        ids, answers = submit_many(stack, jobs, payload={"seconds": 0.1}, clients=8)
        time.sleep(min(20, jobs / 20))  # faults and kills go on while the backlog is worked off
    faults_seconds = elapsed(started)
    verdict = close_with_check(stack, ids, title, timeout=settle, extra={
        "POST /jobs answers": dict(sorted((str(k), v) for k, v in answers.items())),
        "workers killed (-9) and restarted": len(record.kills), "seconds under faults": faults_seconds,
        "workers that exited by themselves": len(record.exits),
    })
    assert not record.exits, f"workers exited by themselves (name, exit code): {record.exits}"
    assert len(ids) >= jobs * 0.8, answers
    assert verdict.ok, verdict.table(title)
    assert sum(verdict.by_status.values()) == len(ids)
    return verdict


def test_mixed_faults_and_kills_short(fault_stack, strays):
    run_mixed(fault_stack, strays, jobs=60, scale=1.0, every=(4, 7), title="mixed faults, 60 jobs, kill -9 (short)")


@pytest.mark.faults_full
def test_mixed_faults_and_kills_1000_jobs(fault_stack, strays):
    # Kills every 20-40 s: a worker needs several seconds to start, and two workers killed
    # every few seconds would spend the run starting. The 5 s stale-QUEUED threshold stays:
    # recovery must not flood the backlog with copies (jobs.services.recovery.sweep._backlog_waiting).
    run_mixed(fault_stack, strays, jobs=1000, scale=1.0, every=(20, 40), title="mixed faults, 1,000 jobs, kill -9",
              settle=900, BATCHLAB_WORKER_CONCURRENCY=2)
