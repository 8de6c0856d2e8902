"""One thread per worker process renews the leases of every job running in it.

Each running job used to start a heartbeat thread of its own and join it at the
end: a thread start and a join per job, on the path of every job however short
(a profile of the worker path showed the join waiting for the thread to wake).
The keeper is started once per process (after a fork too), sleeps until the
earliest lease is due, and costs nothing while no job runs.
"""

import os
import threading
import time
from typing import Protocol

from django.conf import settings


class Lease(Protocol):
    def renew_if_due(self, *, now: float, interval: float) -> float | None:
        """Renew if due; return when (time.monotonic()) it is next due, or None when it needs no more renewing."""


class LeaseKeeper:
    def __init__(self):
        self._lock = threading.Lock()
        self._held: set = set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def add(self, lease: Lease) -> None:
        with self._lock:
            self._held.add(lease)
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
                self._thread.start()
        self._wake.set()

    def remove(self, lease: Lease) -> None:
        with self._lock:
            self._held.discard(lease)

    def _run(self) -> None:
        while True:
            # Cleared before looking: a lease added from here on wakes the wait below.
            self._wake.clear()
            interval = settings.BATCHLAB_LEASE_SECONDS / 3
            with self._lock:
                held = list(self._held)
            next_due = None
            for lease in held:
                due = lease.renew_if_due(now=time.monotonic(), interval=interval)
                if due is None:
                    self.remove(lease)
                else:
                    next_due = due if next_due is None else min(next_due, due)
            self._wake.wait(None if next_due is None else max(0.0, next_due - time.monotonic()))


KEEPER = LeaseKeeper()
