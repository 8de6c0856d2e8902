"""SIGTERM to a worker running several jobs at once (concurrency 2) with more waiting in the queue.

The running jobs finish within the shutdown grace; no message is left hidden
when the worker has exited (none waits out a visibility timeout: the queue's
in-flight count is 0 at once), the next worker runs the rest, and every job
completes once with one effect.
"""

import time

import pytest

from tests.e2e.helpers import queue_depth, wait_until, worker_logs
from tests.faults.checker import history_jobs
from tests.faults.scenario import close_with_check, elapsed, submit_many

ENV = {"BATCHLAB_WORKER_CONCURRENCY": 2, "BATCHLAB_SHUTDOWN_GRACE_SECONDS": 15, "BATCHLAB_VISIBILITY_TIMEOUT": 60,
       "BATCHLAB_MAX_JOB_SECONDS": 30}


@pytest.mark.faults_full
def test_sigterm_with_jobs_running_and_waiting_leaves_no_message_hidden_and_runs_each_job_once(fault_stack):
    stack = fault_stack(workers=1, recovery=False, **ENV)
    wait_until(lambda: worker_logs(stack).count(" ready.") >= 1, timeout=90, what="worker ready")
    ids, answers = submit_many(stack, 8, payload={"seconds": 4}, clients=1)
    assert len(ids) == 8, answers
    wait_until(lambda: sum(j["status"] == "PROCESSING" for j in history_jobs(stack).values()) >= 2, timeout=60,
               what="two jobs running")
    stack.processes["worker1"].terminate()
    stopped = time.monotonic()
    stack.processes["worker1"].wait(timeout=60)
    exited = elapsed(stopped)
    depth = queue_depth(stack)
    stack.processes.pop("worker1")
    stack.restart_worker()
    verdict = close_with_check(stack, ids, "SIGTERM with concurrency 2 and jobs waiting", timeout=120, extra={
        "seconds from SIGTERM to exit": exited, "messages hidden when it exited": depth["in_flight"],
    })
    received = {job_id: worker_logs(stack).count(f"Task jobs.process_job[{job_id}] received") for job_id in ids}
    verdict.extra["messages delivered twice"] = sum(n > 1 for n in received.values())
    print(verdict.table("sigterm"))
    assert verdict.ok and verdict.by_status == {"COMPLETED": 8} and verdict.effects == 8, verdict.table("sigterm")
    assert depth["in_flight"] == 0, depth
    assert all(j["attempts"] == 1 for j in history_jobs(stack).values()), "a running job was cut short and run again"
