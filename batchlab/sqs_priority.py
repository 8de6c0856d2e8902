"""kombu's SQS transport, taking from the priority queues by weight and never waiting on an empty one.

How kombu 5.7's SQS channel consumes several queues in a Celery worker (prefork
pool, so the asynchronous hub; kombu/transport/SQS/__init__.py): `basic_consume`
starts one loop per queue (`_schedule_queue` -> `_get_bulk_async` -> `_loop1`);
each loop long-polls its own queue (WaitTimeSeconds = 20 here) for as many messages
as the prefetch allows, and after an empty answer waits `polling_interval` before
asking again. So the queues are not read in turn, but each loop asks for the
whole prefetch without knowing what the others asked: a free slot goes to
whichever queue answers first (no weights: a full low queue takes as much as a
full high one), and every loop may receive up to the prefetch at once (a worker of
4 slots can hold 12 messages). kombu's async HTTP client has 10 connections
(kombu.asynchronous.http.curl: max_clients=10): more than ~10 queues and a long
poll waits for a free connection, which is the stall reported for 18 queues
(Celery #8129). The synchronous path (pool solo or threads: `drain_events`,
kombu.utils.scheduling.FairCycle over `_get_bulk`) reads the queues in turn with a
blocking long poll each, so an empty queue holds the others for 20 s (kombu #518).

This channel replaces the per-queue loops with one scheduler (`_pump`), run at
start, after each answer, and every `polling_interval` while the worker is full:

- a queue whose last receive was empty is *idle*: it keeps one long poll open
  (20 s, 1 message), so a message that arrives is seen at once, whatever the
  other queues hold; it is not counted against the free slots, so a worker holds
  at most one message per idle queue beyond its prefetch;
- each free slot (prefetch minus unacknowledged messages minus messages asked
  for) is one pick, by smooth weighted round robin (6:3:1 for high:normal:low,
  jobs.flow.WEIGHTS), among the queues with work, whether a receive of theirs is
  on its way or not; each queue's picks are one short receive
  (WaitTimeSeconds=0): a queue that just emptied answers at once, and becomes
  idle, instead of holding a slot for 20 s;
- while every slot is busy nothing is asked (as kombu does).

A full high backlog then leaves low 1 receive in 10, and one high message behind
2,000 low ones is received by the long poll the moment it is sent and starts at
the next free slot. Prefork only: the synchronous path is kombu's own.
"""

import logging

from kombu.transport import SQS
from vine import promise, transform

from jobs.flow import PRIORITIES, WEIGHTS, queue_suffix

logger = logging.getLogger(__name__)

# The weight of each queue, by the name Celery consumes it under (without the prefix).
QUEUE_WEIGHTS = {queue_suffix(p): WEIGHTS[p] for p in PRIORITIES}
IDLE_WAIT_SECONDS = 20  # an idle queue's long poll
MAX_RECEIVE = 10  # SQS returns at most 10 messages per ReceiveMessage


class WeightedPicker:
    """Smooth weighted round robin (as nginx balances upstreams): over any run of picks among the same
    candidates, each gets its weight's share, interleaved rather than in blocks."""

    def __init__(self, weights: dict[str, int]):
        self.weights = dict(weights)
        self.current = dict.fromkeys(weights, 0)

    def pick(self, candidates: list[str]) -> str:
        total = 0
        for name in candidates:
            self.current[name] = self.current.get(name, 0) + self.weights.get(name, 1)
            total += self.weights.get(name, 1)
        chosen = max(candidates, key=lambda name: self.current[name])
        self.current[chosen] -= total
        return chosen


class Channel(SQS.Channel):
    """An SQS channel that schedules receives over its queues by weight (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._picker = WeightedPicker(QUEUE_WEIGHTS)
        self._idle: set[str] = set()  # last receive empty (or none yet): one long poll open
        self._seen: set[str] = set()
        self._asked: dict[str, int] = {}  # queue -> messages asked for by its short receive in flight
        self._reserved: dict[str, int] = {}  # queue -> slots it won while its receive was on its way
        self._long_polls: set[str] = set()  # idle queues with their long poll in flight
        self._pump_due = False
        self.receives = {"short": 0, "long": 0}  # for tests and the benchmark

    # kombu calls this once per queue when consuming starts (basic_consume); every
    # later receive is scheduled by _pump instead of kombu's per-queue loop.
    def _schedule_queue(self, queue):
        self._pump()

    def _free(self) -> int:
        estimate = self.qos.can_consume_max_estimate()
        free = MAX_RECEIVE if estimate is None else estimate
        return free - sum(self._asked.values())

    def _pump(self) -> None:
        active = list(self._active_queues)
        if not active or self.hub is None:
            return
        for queue in active:
            if queue not in self._seen:  # not known to have work: find out with a long poll
                self._seen.add(queue)
                self._idle.add(queue)
        free = self._free()
        if free > 0:
            for queue in active:
                if queue in self._idle and queue not in self._long_polls:
                    self._long_polls.add(queue)
                    self._receive(queue, count=1, wait=IDLE_WAIT_SECONDS)
        # Every free slot is one pick among the queues with work, whether or not a receive of
        # theirs is already on its way: leaving those out would hand the next slot to the others.
        # A queue whose receive is on its way keeps the slots it wins (reserved) for when that
        # receive answers; it gets no second receive meanwhile. Two receives of one queue at once
        # race for the same messages, and the one that loses answers empty: taken for an empty
        # queue, that sent a busy one to one long poll at a time (a 600-job load ran at 3.8 jobs/s
        # instead of 21).
        for queue in active:
            if self._reserved.get(queue) and self._asked.get(queue, 0) <= 0 and queue not in self._idle:
                self._receive(queue, count=min(self._reserved.pop(queue), MAX_RECEIVE), wait=0)
        free = self._free() - sum(self._reserved.values())
        won: dict[str, int] = {}
        candidates = [q for q in active if q not in self._idle]
        while free > 0 and candidates:
            queue = self._picker.pick(candidates)
            if self._asked.get(queue, 0) > 0:
                self._reserved[queue] = self._reserved.get(queue, 0) + 1
            else:
                won[queue] = won.get(queue, 0) + 1
            free -= 1
        for queue, count in won.items():
            self._receive(queue, count=min(count, MAX_RECEIVE), wait=0)
        if self._free() <= 0:
            self._pump_later()  # full: look again when a slot may have freed (no request)

    def _pump_later(self) -> None:
        # One look-again timer at most: kombu's hub fires 10 due timers a turn and then
        # polls for up to 1 s, so a pile of them would hold every other timer back (the
        # HTTP client's request starts among them).
        if not self._pump_due:
            self._pump_due = True
            self.hub.call_later(self.connection.polling_interval or 0.02, self._pump_again)

    def _pump_again(self) -> None:
        self._pump_due = False
        self._pump()

    def _receive(self, queue: str, *, count: int, wait: int) -> None:
        self.receives["long" if wait else "short"] += 1
        if not wait:
            self._asked[queue] = self._asked.get(queue, 0) + count
        q_url = self._new_queue(queue)
        qname = self.canonical_queue_name(queue)
        self.asynsqs(queue=qname).receive_message(
            qname, q_url, number_messages=count, wait_time_seconds=wait,
            callback=transform(self._on_messages_ready, promise(self._received, (queue, wait, count)), q_url, queue),
        )

    def _received(self, queue: str, wait: int, count: int, delivered: int | None = None) -> None:
        if wait:
            self._long_polls.discard(queue)
        else:
            self._asked[queue] = self._asked.get(queue, 0) - count
        if delivered:
            self._idle.discard(queue)
            self._pump()
            return
        self._reserved.pop(queue, None)  # an empty queue keeps no slots
        # An empty (or failed) answer: idle, and its next long poll after polling_interval,
        # as kombu does, so that an unreachable endpoint is not asked in a tight loop.
        self._idle.add(queue)
        self.hub.call_later(self.connection.polling_interval or 0.02, self._pump)


class Transport(SQS.Transport):
    Channel = Channel
