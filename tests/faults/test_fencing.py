"""A worker frozen (SIGSTOP, as a paused VM) past its lease and the visibility timeout, then thawed (SIGCONT).

The message comes back, the other worker takes over the expired lease and runs
the job; the thawed worker's late writes (its effect, its outcome) are refused
by the claim token. Exactly one terminal transition, one committed effect.
"""

import os
import signal
import time

import boto3

from tests.e2e.helpers import parent_pid, start_time, wait_until, worker_logs
from tests.faults.scenario import close_with_check, elapsed

ENV = {"BATCHLAB_VISIBILITY_TIMEOUT": 10, "BATCHLAB_MAX_JOB_SECONDS": 8, "BATCHLAB_LEASE_SECONDS": 4,
       "BATCHLAB_STALE_QUEUED_SECONDS": 30}


def job_item(stack, job_id: str) -> dict:
    client = boto3.client("dynamodb", endpoint_url=stack.dynamodb_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    return client.get_item(TableName="batchlab-jobs", Key={"JobId": {"S": job_id}, "SK": {"S": "JOB"}}, ConsistentRead=True)["Item"]


def test_a_worker_frozen_past_lease_and_visibility_is_fenced_out_when_it_thaws(fault_stack, strays):
    stack = fault_stack(workers=2, recovery=False, **ENV)
    wait_until(lambda: worker_logs(stack).count(" ready.") >= 2, timeout=60, what="both workers ready")
    from tests.faults.scenario import submit_many

    ids, answers = submit_many(stack, 1, payload={"seconds": 6}, clients=1)
    assert ids, answers
    job_id = ids[0]
    item = wait_until(lambda: (i := job_item(stack, job_id)).get("LeaseOwner") and i, timeout=30, what="job claimed")
    child = int(item["LeaseOwner"]["S"].rsplit(":", 1)[1])
    worker = parent_pid(child)
    strays.extend((pid, start_time(pid)) for pid in (worker, child))
    started = time.monotonic()
    os.killpg(os.getpgid(worker), signal.SIGSTOP)  # the worker and its prefork child: the whole "machine" pauses
    try:
        wait_until(lambda: int(job_item(stack, job_id)["Attempts"]["N"]) >= 2, timeout=60, what="the other worker took over")
        taken_over = elapsed(started)
    finally:
        os.killpg(os.getpgid(worker), signal.SIGCONT)
    verdict = close_with_check(stack, ids, "SIGSTOP past lease and visibility, then SIGCONT", timeout=60,
                               extra={"seconds frozen until the takeover": taken_over})
    final = job_item(stack, job_id)
    events = [e["M"]["Event"]["S"] for e in final["Timeline"]["L"]]
    assert verdict.ok and verdict.by_status == {"COMPLETED": 1} and verdict.effects == 1, verdict.table("fencing")
    assert events.count("claimed") == 2 and events.count("completed") == 1, events
    completed_by = [e["M"]["Worker"]["S"] for e in final["Timeline"]["L"] if e["M"]["Event"]["S"] == "completed"][0]
    assert not completed_by.endswith(f":{child}"), "the frozen worker's outcome must have been refused"
    # The thawed worker learns that it lost the job (its writes were refused), and says so.
    wait_until(lambda: "lease" in _log_of(stack, child).lower(), timeout=30, what="the thawed worker noticed")


def _log_of(stack, pid: int) -> str:
    return "\n".join(line for line in worker_logs(stack).splitlines() if f"{pid}" in line or "lease" in line.lower())
