"""DynamoDB applies the claim, the completion or the effect, and the answer is lost (apply then fail).

The proxy forwards the write, drops DynamoDB's answer and resets the
connection; the SDK retries and the retry is refused by the write's own
condition. Every job must still end COMPLETED once, with one committed effect,
on its first attempt (a claim whose answer was lost is recognised by its token).
"""

import pytest

from tests.faults.proxy import Rule
from tests.faults.scenario import close_with_check, submit_many

ENV = {"BATCHLAB_VISIBILITY_TIMEOUT": 12, "BATCHLAB_MAX_JOB_SECONDS": 8, "BATCHLAB_LEASE_SECONDS": 6,
       "BATCHLAB_STALE_QUEUED_SECONDS": 5}


# In `make test-faults` only: one fresh-clone run saw the proxy inject nothing (the history
# check passed, the injection count did not); not yet understood, so kept out of CI's subset.
@pytest.mark.faults_full
def test_lost_answers_on_claim_completion_and_effect_end_each_job_once(fault_stack):
    stack = fault_stack(workers=2, **ENV)
    stack.dynamodb_proxy.set_rules(
        Rule("apply_then_fail", 0.5, ops=("UpdateItem",), contains=b'"claimed"'),
        Rule("apply_then_fail", 0.5, ops=("UpdateItem",), contains=b'"completed"'),
        Rule("apply_then_fail", 0.3, ops=("TransactWriteItems",)),
    )
    ids, answers = submit_many(stack, 20)
    assert len(ids) == 20, answers
    verdict = close_with_check(stack, ids, "DynamoDB apply-then-fail on claim, completion, effect", timeout=120)
    injected = stack.dynamodb_proxy.injected["apply_then_fail"]
    assert verdict.ok and verdict.by_status == {"COMPLETED": 20} and verdict.effects == 20, verdict.table("lost answers")
    assert injected >= 3, stack.injected()
    assert verdict.reclaimed == [], verdict.table("lost answers")  # no claim mistaken for "busy" and run again
