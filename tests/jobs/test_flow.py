"""Flow control's pure part: rates, limits, the GCRA arithmetic, bookings and wait delays."""

import random

import pytest

from jobs.flow import (
    WEIGHTS,
    Limits,
    Priority,
    Rate,
    WaitPolicy,
    WaitReason,
    booking,
    gcra_admit,
    limits_errors,
    queue_suffix,
    rate_parse,
    wait_delay,
    waits_per_minute,
)


@pytest.mark.parametrize("text, count, seconds", [
    ("10/s", 10, 1), ("10/second", 10, 1), ("10 / sec", 10, 1), ("600/min", 600, 60), ("600/minute", 600, 60),
    ("100/h", 100, 3600), ("2/hours", 2, 3600), ("1000/day", 1000, 86400), ("5/10s", 5, 10), ("5/10 seconds", 5, 10),
    ("7/S", 7, 1),
])
def test_rates_are_read_in_the_usual_notations(text, count, seconds):
    rate = rate_parse(text)
    assert (rate.count, rate.seconds) == (count, seconds)
    assert rate.interval == pytest.approx(seconds / count)


@pytest.mark.parametrize("text, says", [
    ("0/s", "allows nothing"), ("ten/s", "not a rate"), ("10/fortnight", "Unknown unit"), ("10/ms", "Unknown unit"),
    ("-1/s", "not a rate"), ("1.5/s", "not a rate"), ("", "not a rate"), ("10/0s", "allows nothing"),
    ("100000/s", "over 500/s"),
])
def test_bad_rates_say_what_is_wrong(text, says):
    with pytest.raises(ValueError, match=says):
        rate_parse(text)


def test_a_rate_prints_in_its_own_notation():
    assert [str(rate_parse(t)) for t in ("10/s", "600/min", "5/10s", "3/day")] == ["10/s", "600/min", "5/10s", "3/day"]


def test_limits_refuse_every_bad_field_at_once():
    errors = limits_errors({"paused": "yes", "priority": "urgent", "concurrency_limit": -1, "rate_limit": "ten/s",
                            "key_concurrency_limit": 0, "key_rate_limit": "0/s"})
    assert sorted(errors) == ["concurrency_limit", "key_concurrency_limit", "key_rate_limit", "paused", "priority", "rate_limit"]
    assert limits_errors({"concurrency_limit": True}) == {"concurrency_limit": limits_errors({"concurrency_limit": 0})["concurrency_limit"]}
    assert limits_errors(Limits().as_dict()) == {}
    with pytest.raises(ValueError, match="concurrency_limit"):
        Limits(concurrency_limit=0)


def test_a_type_without_limits_is_not_limited():
    assert not Limits().limited
    assert not Limits(paused=True, priority=Priority.HIGH).limited  # a pause is read from the settings, not at the claim
    assert Limits(concurrency_limit=2).type_limited and not Limits(concurrency_limit=2).key_limited
    assert Limits(key_rate_limit="1/s").key_limited and Limits(key_rate_limit="1/s").limited
    assert Limits(rate_limit="5/s").rate() == Rate(count=5, seconds=1)


def test_each_priority_has_its_queue_and_normal_keeps_the_old_one():
    assert [queue_suffix(p) for p in ("high", "normal", "low", None)] == ["jobs-high", "jobs", "jobs-low", "jobs"]
    with pytest.raises(ValueError):
        queue_suffix("urgent")
    assert WEIGHTS[Priority.LOW] / sum(WEIGHTS.values()) >= 0.05


def test_gcra_spaces_starts_one_interval_apart():
    first = gcra_admit(tat=None, now=100.0, interval=0.2)
    assert first.allowed and first.tat == pytest.approx(100.2)
    early = gcra_admit(tat=first.tat, now=100.1, interval=0.2)
    assert not early.allowed and early.retry_at == pytest.approx(100.2) and early.tat == first.tat
    on_time = gcra_admit(tat=first.tat, now=100.2, interval=0.2)
    assert on_time.allowed and on_time.tat == pytest.approx(100.4)
    idle = gcra_admit(tat=first.tat, now=500.0, interval=0.2)  # no credit is saved up while idle: no burst
    assert idle.allowed and idle.tat == pytest.approx(500.2)


def test_gcra_never_lets_more_than_count_plus_one_starts_into_a_closed_window():
    rng = random.Random(7)
    rate = rate_parse("5/s")
    tat, starts, now = None, [], 0.0
    for _ in range(20_000):  # many workers asking at random moments, often at once
        now += rng.choice([0.0, 0.0, 0.001, 0.01, 0.05, 0.13, 0.3])
        admission = gcra_admit(tat=tat, now=now, interval=rate.interval)
        if admission.allowed:
            tat = admission.tat
            starts.append(now)
    assert len(starts) > 1000
    for i, start in enumerate(starts):
        closed = sum(1 for s in starts[i:i + 10] if s <= start + 1.0 + 1e-9)
        half_open = sum(1 for s in starts[i:i + 10] if s < start + 1.0 - 1e-9)
        assert closed <= rate.count + 1
        assert half_open <= rate.count


def test_bookings_hand_out_turns_one_interval_apart_after_the_last_start():
    turns, booked = [], None
    for _ in range(5):
        turn, booked = booking(booked=booked, tat=10.2, now=10.0, interval=0.2)
        turns.append(round(turn, 6))
    assert turns == [10.2, 10.4, 10.6, 10.8, 11.0]
    # An old booking frontier does not hold a job back: its turn is now (or the next start).
    assert booking(booked=3.0, tat=None, now=50.0, interval=0.2) == (50.0, pytest.approx(50.2))


def test_a_rate_wait_comes_back_just_before_its_turn():
    assert wait_delay(WaitReason.RATE, waits=0, turn_in=0.4) == 0
    assert wait_delay(WaitReason.RATE, waits=3, turn_in=7.9) == 7
    assert wait_delay(WaitReason.RATE, waits=0, turn_in=5000) == 900  # SQS's longest delay; it books again on return


def test_other_waits_double_up_to_their_cap_and_never_spin():
    rng = random.Random(1)
    policy = WaitPolicy(concurrency_max=30, paused_max=60)
    delays = [wait_delay(WaitReason.CONCURRENCY, waits=k, policy=policy, rng=rng) for k in range(12)]
    assert all(d >= 1 for d in delays)
    assert max(delays) <= 30 and min(delays[6:]) >= 15
    paused = [wait_delay(WaitReason.PAUSED, waits=k, policy=policy, rng=rng) for k in range(12)]
    assert max(paused) <= 60 and min(paused[7:]) >= 30
    assert waits_per_minute(WaitReason.CONCURRENCY, policy=policy) == 4.0
    assert waits_per_minute(WaitReason.PAUSED, policy=policy) == 2.0
