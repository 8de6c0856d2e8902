"""The receive watchdog: it stops a worker idle with no successful receive, never one that is busy or receiving."""

import threading
import time

from celery.worker import state as pool_state

from jobs.worker import state as worker_state
from jobs.worker import watchdog


def run_watch(monkeypatch, *, since: float | None, reserved: set, limit: float = 0.2) -> list:
    """Run the watchdog for 0.6 s with `since` seconds since the last receive; returns its stop calls."""
    stuck = []
    monkeypatch.setattr(worker_state, "seconds_since_receive", lambda: since)
    monkeypatch.setattr(worker_state, "seconds_since_start", lambda: 1000.0)
    monkeypatch.setattr(pool_state, "reserved_requests", reserved)
    stop = threading.Event()
    thread = threading.Thread(target=watchdog.watch, kwargs={"limit": limit, "interval": 0.05, "stop": stop,
                                                             "on_stuck": lambda: stuck.append(True)})
    thread.start()
    time.sleep(0.6)
    stop.set()
    thread.join(timeout=5)
    return stuck


def test_an_idle_worker_with_no_successful_receive_past_the_limit_is_stopped_once(monkeypatch):
    assert run_watch(monkeypatch, since=100.0, reserved=set()) == [True]


def test_an_idle_worker_that_never_received_is_stopped_past_the_limit(monkeypatch):
    assert run_watch(monkeypatch, since=None, reserved=set()) == [True]


def test_a_worker_that_receives_is_left_alone(monkeypatch):
    assert run_watch(monkeypatch, since=0.0, reserved=set()) == []


def test_a_busy_worker_is_not_stopped_however_long_since_its_last_receive(monkeypatch):
    assert run_watch(monkeypatch, since=100.0, reserved={object()}) == []
