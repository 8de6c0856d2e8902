"""Renewal: one thread per worker process renews the lease of every unit running in it, whatever its handler is doing.

A unit's holder (`LeaseHolder`: a job's context, a chunk's) is added to the
process's keeper when the unit starts and removed when it ends. The keeper
sleeps until the earliest renewal is due (a third of the lease after the unit's
last write) and calls the holder's `renew()`, so one item or one handler call
slower than the lease never hands the unit to a second worker. The keeper is
started once per process (after a fork too) and costs nothing while no unit runs.
"""

import logging
import os
import threading
import time

from django.conf import settings

from jobs.services.lease.claim import Claim, LeaseLost

logger = logging.getLogger("jobs.services")


class LeaseKeeper:
    def __init__(self):
        self._lock = threading.Lock()
        self._held: set = set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def add(self, holder: "LeaseHolder") -> None:
        with self._lock:
            self._held.add(holder)
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()
        self._wake.set()

    def remove(self, holder: "LeaseHolder") -> None:
        with self._lock:
            self._held.discard(holder)

    def _run(self) -> None:
        while True:
            # Cleared before looking: a holder added from here on wakes the wait below.
            self._wake.clear()
            interval = settings.BATCHLAB_LEASE_SECONDS / 3
            with self._lock:
                held = list(self._held)
            next_due = None
            for holder in held:
                due = holder.renew_if_due(now=time.monotonic(), interval=interval)
                if due is None:
                    self.remove(holder)
                else:
                    next_due = due if next_due is None else min(next_due, due)
            self._wake.wait(None if next_due is None else max(0.0, next_due - time.monotonic()))


KEEPER = LeaseKeeper()


class LeaseHolder:
    """A running unit's side of its lease: its writes, serialised with the keeper's renewals.

    Subclasses say how to renew (`renew()`: one fenced write that extends the
    lease, with whatever else is worth carrying). `write(fn)` runs any write of
    the runner under the same lock, so a renewal never races a final write; after
    `__exit__` no renewal starts. A LeaseLost from any write marks the holder lost:
    the runner stops at its next check.
    """

    def __init__(self, claim: Claim):
        self.claim = claim
        self._lock = threading.Lock()
        self._last_write = time.monotonic()
        self._retry_at = 0.0
        self._closed = False
        self.lease_lost = False

    def renew(self) -> None:
        raise NotImplementedError

    def write(self, fn, *, renewal: bool = False):
        with self._lock:
            if renewal and self._closed:
                return None
            try:
                result = fn()
            except LeaseLost:
                self.lease_lost = True
                raise
            self._last_write = time.monotonic()
            return result

    def renew_if_due(self, *, now: float, interval: float) -> float | None:
        """Called by the keeper: renew unless a write did within `interval`; the next due time, or None when done."""
        if self._closed or self.lease_lost:
            return None
        due = max(self._last_write + interval, self._retry_at)
        if now < due:
            return due
        try:
            self.write(self.renew, renewal=True)
        except LeaseLost:
            logger.warning("%s %s: lease lost; the runner stops at its next check", self.claim.kind.name, self.claim.label)
            return None
        except Exception:
            logger.exception("%s %s: lease renewal failed; trying again", self.claim.kind.name, self.claim.label)
            self._retry_at = time.monotonic() + min(interval, 5.0)
            return self._retry_at
        return self._last_write + interval

    def check_lease(self) -> None:
        if self.lease_lost:
            raise LeaseLost(f"{self.claim.kind.name} {self.claim.label}: lease lost")

    def __enter__(self):
        KEEPER.add(self)
        return self

    def __exit__(self, *exc):
        with self._lock:  # waits for a renewal in flight; none starts after this
            self._closed = True
        KEEPER.remove(self)
        return False
