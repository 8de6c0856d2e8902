"""DynamoDB applies the claim, the completion or the effect, and the answer is lost (apply then fail).

The proxy forwards the write, drops DynamoDB's answer and resets the
connection; the SDK retries and the retry is refused by the write's own
condition. Every job must still end COMPLETED once, with one committed effect,
on its first attempt (a claim whose answer was lost is recognised by its token).

The rules stay on until every job is terminal: the workers may still be starting
when the 20 submissions are done (a fresh clone, a loaded machine), and rules
cleared right after submitting then met few claims, or none.
"""

from tests.faults.checker import wait_terminal
from tests.faults.proxy import Rule
from tests.faults.scenario import close_with_check, submit_many

ENV = {"BATCHLAB_VISIBILITY_TIMEOUT": 12, "BATCHLAB_MAX_JOB_SECONDS": 8, "BATCHLAB_LEASE_SECONDS": 6,
       "BATCHLAB_STALE_QUEUED_SECONDS": 5}


def test_lost_answers_on_claim_completion_and_effect_end_each_job_once(fault_stack):
    stack = fault_stack(workers=2, **ENV)
    claim, completion, effect = rules = (
        Rule("apply_then_fail", 0.5, ops=("UpdateItem",), contains=b'"claimed"'),
        Rule("apply_then_fail", 0.5, ops=("UpdateItem",), contains=b'"completed"'),
        Rule("apply_then_fail", 0.3, ops=("TransactWriteItems",)),
    )
    stack.dynamodb_proxy.set_rules(*rules)
    ids, answers = submit_many(stack, 20)
    assert len(ids) == 20, answers
    wait_terminal(stack, ids, timeout=90)  # every claim, completion and effect meets the rules
    fired = {"claim": claim.fired, "completion": completion.fired, "effect": effect.fired}
    verdict = close_with_check(stack, ids, "DynamoDB apply-then-fail on claim, completion, effect", timeout=60,
                               extra={f"answers lost: {k}": v for k, v in fired.items()})
    assert verdict.ok and verdict.by_status == {"COMPLETED": 20} and verdict.effects == 20, verdict.table("lost answers")
    # 20 claims and 20 completions each lose their answer with p = 0.5 (and the retries too).
    assert claim.fired >= 1 and completion.fired >= 1 and sum(fired.values()) >= 3, fired
    assert verdict.reclaimed == [], verdict.table("lost answers")  # no claim mistaken for "busy" and run again
