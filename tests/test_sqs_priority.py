"""The weighted SQS channel's scheduler: weights between queues with work, one long poll per idle queue, no receive while full."""

import types
from collections import Counter

from batchlab.sqs_priority import QUEUE_WEIGHTS, Channel, WeightedPicker


def test_smooth_weighted_round_robin_gives_each_its_share_interleaved():
    picker = WeightedPicker({"high": 6, "normal": 3, "low": 1})
    picks = [picker.pick(["high", "normal", "low"]) for _ in range(1000)]
    assert Counter(picks) == {"high": 600, "normal": 300, "low": 100}
    assert "low" in picks[:10] and max(len(run) for run in "".join(p[0] for p in picks).split("l")) <= 9
    two = [picker.pick(["high", "low"]) for _ in range(700)]
    assert Counter(two) == {"high": 600, "low": 100}


def test_the_configured_weights_leave_low_at_least_a_twentieth():
    assert QUEUE_WEIGHTS == {"jobs-high": 6, "jobs": 3, "jobs-low": 1}


class FakeHub:
    def __init__(self):
        self.later = []

    def call_later(self, delay, fn, *args):
        self.later.append((delay, fn, args))


class Detached(Channel):
    qos = None  # a plain attribute here: the test sets what the prefetch allows


def channel(*, slots: int, unacked: int = 0):
    """A Channel without a connection: its scheduler, with receives recorded instead of sent."""
    ch = Detached.__new__(Detached)
    ch._picker = WeightedPicker(QUEUE_WEIGHTS)
    ch._idle, ch._seen, ch._asked, ch._long_polls, ch._pump_due = set(), set(), {}, set(), False
    ch._reserved = {}
    ch.receives = {"short": 0, "long": 0}
    ch._active_queues = ["jobs-high", "jobs", "jobs-low"]
    ch.hub = FakeHub()
    ch.connection = types.SimpleNamespace(polling_interval=0.02)
    ch.fake = {"unacked": unacked}
    ch.qos = types.SimpleNamespace(can_consume_max_estimate=lambda: max(0, slots - ch.fake["unacked"]))
    ch.sent = []

    def receive(queue, *, count, wait):  # what is asked counts against the free slots until it is answered
        ch.sent.append((queue, count, wait))
        if not wait:
            ch._asked[queue] = ch._asked.get(queue, 0) + count

    ch._receive = receive
    return ch


def test_at_start_every_queue_is_asked_by_one_long_poll():
    ch = channel(slots=4)
    for queue in ch._active_queues:
        ch._schedule_queue(queue)
    assert sorted(ch.sent) == [("jobs", 1, 20), ("jobs-high", 1, 20), ("jobs-low", 1, 20)]


def test_free_slots_go_to_queues_with_work_by_weight_as_short_receives():
    ch = channel(slots=4)
    for queue in ch._active_queues:
        ch._schedule_queue(queue)
    ch.sent.clear()
    # Every long poll brought a message back: all three have work; 3 messages unacked, 1 slot free.
    ch.fake["unacked"] = 3
    for queue in ch._active_queues:
        ch._received(queue, 20, 1, 1)
    assert ch.sent == [("jobs-high", 1, 0)]  # the one free slot, to the heaviest
    taken = Counter()
    ch.fake["unacked"] = 2  # a second slot frees while the first receive is on its way
    ch._pump()
    for _ in range(1000):  # two receives in flight; each answer brings one message, a finished job frees a slot
        queue, count, wait = ch.sent.pop(0)
        assert wait == 0 and count == 1
        taken[queue] += 1
        ch._received(queue, 0, 1, 1)
    assert taken == {"jobs-high": 600, "jobs": 300, "jobs-low": 100}


def test_a_queue_that_empties_goes_idle_and_never_holds_a_slot():
    ch = channel(slots=4)
    ch._seen.update(ch._active_queues)
    ch._pump()  # all three believed to have work: the 4 slots split by weight, no long poll
    assert all(wait == 0 for _, _, wait in ch.sent) and sum(c for _, c, _ in ch.sent) == 4
    high_asked = next(c for q, c, _ in ch.sent if q == "jobs-high")
    ch.sent.clear()
    ch._received("jobs-high", 0, high_asked, 0)  # high answered empty: idle from now
    assert "jobs-high" in ch._idle and ch.hub.later  # its long poll after polling_interval
    _, pump, _ = ch.hub.later.pop()
    pump()
    assert ("jobs-high", 1, 20) in ch.sent  # one long poll, not counted against the slots
    assert [s for s in ch.sent if s[2] == 0] and all(q != "jobs-high" for q, _, w in ch.sent if w == 0)


def test_nothing_is_asked_while_every_slot_is_busy():
    ch = channel(slots=4, unacked=4)
    ch._seen.update(ch._active_queues)
    ch._pump()
    assert ch.sent == [] and ch.hub.later  # looks again after polling_interval, with no request
    ch.fake["unacked"] = 3
    ch.hub.later.pop()[1]()
    assert len(ch.sent) == 1 and ch.sent[0][2] == 0


def test_a_queue_whose_receive_is_on_its_way_gets_no_second_one_and_keeps_the_slot_it_won():
    ch = channel(slots=4, unacked=3)
    ch._active_queues = ["jobs"]
    ch._seen.add("jobs")
    ch._pump()
    assert ch.sent == [("jobs", 1, 0)]
    ch.fake["unacked"] = 2  # a slot frees while that receive is on its way
    ch._pump()
    # No second receive of the same queue: two at once race for its messages, and the loser's
    # empty answer would send a busy queue to long polls one message at a time.
    assert ch.sent == [("jobs", 1, 0)] and ch._reserved == {"jobs": 1}
    ch.sent.clear()
    ch._received("jobs", 0, 1, 1)  # its answer: one message, and the slot it kept is asked for now
    assert ch.sent and ch.sent[0][0] == "jobs" and "jobs" not in ch._idle


def test_a_busy_worker_keeps_one_timer_to_look_again_however_many_jobs_it_runs():
    """kombu's hub fires at most 10 due timers a turn and then polls for up to 1 s: were each delivery
    to start one more 'look again' chain, after ~10 jobs every receive would go out seconds late."""
    ch = channel(slots=1)
    ch._seen.update(ch._active_queues)
    ch._idle.update({"jobs-high", "jobs-low"})  # only the normal queue has work
    ch._long_polls.update({"jobs-high", "jobs-low"})  # ... and the other two have their long poll open
    for _ in range(50):
        ch._pump()  # a slot is free: one short receive, and the worker is full until it is answered
        queue, count, wait = ch.sent.pop()
        assert (queue, count, wait) == ("jobs", 1, 0)
        ch.fake["unacked"] = 1
        ch._received(queue, 0, 1, 1)  # the answer brings a job, which runs...
        for _ in range(3):  # ... while the hub fires its due timers every polling interval
            due, ch.hub.later = ch.hub.later, []
            for _, fn, args in due:
                fn(*args)
        ch.fake["unacked"] = 0  # ... and is acknowledged
        assert len(ch.hub.later) <= 1
    assert ch.sent == []
