"""Smoke: the proxies pass traffic; 20 effect jobs complete, one effect each."""

from tests.faults.scenario import close_with_check, submit_many


def test_proxied_stack_runs_effect_jobs_once_each(fault_stack):
    stack = fault_stack(workers=1)
    ids, answers = submit_many(stack.web_url, 20)
    assert len(ids) == 20, answers
    verdict = close_with_check(stack, ids, "smoke", timeout=60)
    assert verdict.ok and verdict.by_status == {"COMPLETED": 20} and verdict.effects == 20, verdict.table("smoke")
    assert stack.sqs_proxy.requests["ReceiveMessage"] > 0 and stack.dynamodb_proxy.requests["UpdateItem"] >= 40
