"""Limits at the claim, on moto's in-process DynamoDB: slots taken in the claim's transaction, given back, reclaimed from
a dead run; the rate's starts spaced; key limits per key; a type without limits claims as before."""

import time

import pytest
from pynamodb.connection.base import Connection
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from jobs import services
from jobs.services.flow.gate import flow_finished, gated_claim
from jobs.services.flow.limiter import key_scope, type_scope
from jobs.services.lease.claim import Refused
from jobs.services.lease.outcome import Outcome
from jobs.tables import JOB_SK, LIMITER_SK, WAITER_PREFIX, Job, Limiter, Waiter

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws", "fresh_type_settings")]


@pytest.fixture
def sent(monkeypatch):
    from jobs.services import publishing

    out = []
    monkeypatch.setattr(publishing, "job_publish", lambda *, job_id, countdown=0, delay_seconds=0, priority=None, flow=None:
                        out.append((job_id, delay_seconds, flow)))
    return out


def submit(sent, type="sleep", owner="alice", **kw):
    job, _ = services.job_submit(owner=owner, name="n", type=type, payload={"seconds": 0} if type == "sleep" else {}, **kw)
    return job.job_id, sent[-1][2]


def claim(job_id: str, flow: dict):
    """The runner's first half: the gate, then the claim (held, not run)."""
    return gated_claim(job_id=job_id, number=None, flow=flow, claim=lambda actions, also: services.job_claim(
        job_id=job_id, worker="w", actions=tuple(actions), also=tuple(also)))


def leases(scope: str) -> set:
    try:
        return set(Limiter.get(scope, LIMITER_SK, consistent_read=True).leases or ())
    except Limiter.DoesNotExist:
        return set()


def test_a_type_without_limits_claims_with_one_update_and_no_limiter(sent, monkeypatch):
    calls = []
    monkeypatch.setattr(Connection, "transact_write_items", lambda *a, **k: calls.append(a))
    job_id, flow = submit(sent)
    assert services.job_execute(job_id=job_id, worker="w", flow=flow) == "completed"
    assert calls == [] and list(Limiter.scan()) == []


def test_at_most_the_limit_run_and_a_slot_given_back_goes_to_a_waiter(sent):
    services.type_settings_update(type="sleep", actor="root", changes={"concurrency_limit": 2})
    (a, fa), (b, fb), (c, fc) = submit(sent), submit(sent), submit(sent)
    first, second = claim(a, fa), claim(b, fb)
    assert first.job.status == second.job.status == "PROCESSING"
    assert len(leases(type_scope("sleep"))) == 2 and first.job.limiters == [type_scope("sleep")]
    held = claim(c, fc)
    assert isinstance(held, Refused) and held.outcome is Outcome.WAITING
    job = Job.get(c, JOB_SK)
    assert (job.status, job.waiting_for, int(job.attempts)) == ("QUEUED", "concurrency_limit", 0)
    assert len(list(Waiter.query(type_scope("sleep"), Waiter.sk.startswith(WAITER_PREFIX)))) == 1
    services.job_complete(claim=first, result={})
    flow_finished(first.job)  # the end of the run: its slot back, the waiter woken
    assert len(leases(type_scope("sleep"))) == 1
    woken = sent[-1]
    assert woken[0] == c and woken[1] == 0
    assert services.job_execute(job_id=c, worker="w", flow=woken[2]) == "completed"
    assert Job.get(c, JOB_SK).waiting_for is None
    assert leases(type_scope("sleep")) == {f"{b} {second.job.slot}"}


def test_the_slot_of_a_dead_run_comes_back_once_its_lease_ran_out(sent):
    services.type_settings_update(type="sleep", actor="root", changes={"concurrency_limit": 1})
    (a, fa), (b, fb) = submit(sent), submit(sent)
    dead = claim(a, fa)  # its worker dies: nothing gives the slot back
    assert isinstance(claim(b, fb), Refused)
    Job(a, JOB_SK).update(actions=[Job.lease_expires_at.set(int(time.time()) - 1)])  # ... and its lease runs out
    # This process saw that run alive and trusts the lease it read until its end; another process, or this
    # one once that end passed, reads it again. Seen from such a process:
    from jobs.services.flow import limiter

    limiter._ALIVE.clear()
    again = claim(b, sent[-1][2])
    assert not isinstance(again, Refused) and again.job.status == "PROCESSING"
    assert leases(type_scope("sleep")) == {f"{b} {again.job.slot}"}
    assert dead.job.slot != again.job.slot
    # The dead run was moved back as recovery would, before its slot was given to another: never two PROCESSING.
    moved = Job.get(a, JOB_SK)
    assert moved.status == "QUEUED" and moved.timeline[-1].event == "lease_expired"
    assert moved.timeline[-1].at <= Job.get(b, JOB_SK).started_at


def test_a_rate_spaces_the_starts_one_interval_apart(sent):
    services.type_settings_update(type="echo", actor="root", changes={"rate_limit": "5/s"})
    ids = [submit(sent, type="echo") for _ in range(6)]
    outcomes = [services.job_execute(job_id=j, worker="w", flow=f) for j, f in ids]  # each waits its turn (< 1 s) here
    assert outcomes == ["completed"] * 6
    starts = sorted(Job.get(j, JOB_SK).started_at.timestamp() for j, _ in ids)
    # On the grid of turns one interval apart from the first start (a start late by some milliseconds does not
    # push the grid), and no two closer than half an interval (jobs.services.flow.limiter).
    assert all(start - starts[0] >= k * 0.2 - 0.005 for k, start in enumerate(starts)), starts
    assert all(later - earlier >= 0.1 - 0.005 for earlier, later in zip(starts, starts[1:])), starts
    assert all(int(Job.get(j, JOB_SK).attempts) == 1 for j, _ in ids)


def test_a_turn_further_than_a_second_waits_in_sqs_with_its_booking(sent):
    services.type_settings_update(type="echo", actor="root", changes={"rate_limit": "1/min"})
    (a, fa), (b, fb) = submit(sent, type="echo"), submit(sent, type="echo")
    assert services.job_execute(job_id=a, worker="w", flow=fa) == "completed"
    assert services.job_execute(job_id=b, worker="w", flow=fb) == "waiting"
    _, delay, flow = sent[-1]
    assert 55 <= delay <= 60 and flow["reason"] == "rate_limit" and flow["turn"] > time.time() + 50
    job = Job.get(b, JOB_SK)
    assert job.waiting_for == "rate_limit" and int(job.attempts) == 0


def test_a_key_limit_holds_each_key_apart(sent):
    services.type_settings_update(type="sleep", actor="root", changes={"key_concurrency_limit": 1})
    (a1, f1), (a2, f2) = submit(sent, concurrency_key="a"), submit(sent, concurrency_key="a")
    (b1, g1), (mine, h1) = submit(sent, concurrency_key="b"), submit(sent, owner="carol")
    assert not isinstance(claim(a1, f1), Refused)
    assert isinstance(claim(a2, f2), Refused)  # key a is busy
    assert not isinstance(claim(b1, g1), Refused) and not isinstance(claim(mine, h1), Refused)  # key b, and carol's own key
    assert leases(key_scope("sleep", "user:carol")) and not leases(type_scope("sleep"))


def test_a_transaction_conflict_is_tried_again_not_taken_for_a_limit(sent, monkeypatch):
    services.type_settings_update(type="sleep", actor="root", changes={"concurrency_limit": 1})
    job_id, flow = submit(sent)
    real, failures = Connection.transact_write_items, []

    def conflict_once(self, *args, **kwargs):
        if not failures:
            failures.append(1)
            cause = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
                                       "TransactWriteItems", cancellation_reasons=[None, CancellationReason(code="TransactionConflict")])
            raise TransactWriteError("Failed to write transaction items", cause)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", conflict_once)
    held = claim(job_id, flow)
    assert failures == [1] and not isinstance(held, Refused) and held.job.status == "PROCESSING"


def test_the_runner_gives_the_slot_back_however_the_run_ends(sent):
    services.type_settings_update(type="flaky", actor="root", changes={"concurrency_limit": 1})
    job, _ = services.job_submit(owner="alice", name="n", type="flaky", payload={"failures": 1})
    flow = sent[-1][2]
    # A transient failure (RetryLater, recorded and published by the runner's caller): the slot is back.
    assert services.job_execute(job_id=job.job_id, worker="w", flow=flow) == "retrying"
    assert leases(type_scope("flaky")) == set()
    assert services.job_execute(job_id=job.job_id, worker="w", flow=sent[-1][2]) == "completed"
    assert leases(type_scope("flaky")) == set() and int(Job.get(job.job_id, JOB_SK).attempts) == 2
