"""A job that runs longer than the visibility timeout: the worker keeps its message hidden (visibility heartbeat).

Visibility timeout 6 s, a 15 s job, two workers: the message is received once,
the job claimed once and its effect committed once. (Without the heartbeat the
message would come back; the claim's lease then answers "busy" and fencing
guards the outcome: tests/faults/test_fencing.py.)
"""

import pytest

from tests.e2e.helpers import wait_until, worker_logs
from tests.faults.checker import history_jobs
from tests.faults.scenario import close_with_check, submit_many

ENV = {"BATCHLAB_VISIBILITY_TIMEOUT": 6, "BATCHLAB_MAX_JOB_SECONDS": 30, "BATCHLAB_LEASE_SECONDS": 4}


@pytest.mark.faults_full
def test_a_job_longer_than_the_visibility_timeout_is_delivered_and_claimed_once(fault_stack):
    stack = fault_stack(workers=2, recovery=False, **ENV)
    wait_until(lambda: worker_logs(stack).count(" ready.") >= 2, timeout=90, what="both workers ready")
    ids, answers = submit_many(stack, 1, payload={"seconds": 15}, clients=1)
    assert ids, answers
    verdict = close_with_check(stack, ids, "a 15 s job, visibility timeout 6 s", timeout=90)
    received = worker_logs(stack).count(f"Task jobs.process_job[{ids[0]}] received")
    verdict.extra["deliveries of its message"] = received
    print(verdict.table("long job"))
    assert verdict.ok and verdict.by_status == {"COMPLETED": 1} and verdict.effects == 1, verdict.table("long job")
    assert history_jobs(stack)[ids[0]]["attempts"] == 1 and received == 1, verdict.table("long job")
