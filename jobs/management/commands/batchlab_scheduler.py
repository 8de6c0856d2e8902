"""`manage.py batchlab_scheduler`: fire due schedules and release due delayed jobs, about once a second.

Safe to run on every machine at once: each due time is claimed by one conditional write.
"""

import json
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from jobs import services


class Command(BaseCommand):
    help = "Fire due schedules and publish due SCHEDULED jobs, every tick (BATCHLAB_SCHEDULER_TICK_SECONDS)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one tick and exit.")
        parser.add_argument("--tick", type=float, default=settings.BATCHLAB_SCHEDULER_TICK_SECONDS)
        parser.add_argument(
            "--clock-offset", type=float, default=0.0,
            help="Tests and drills: act as if the clock were this many seconds ahead (e.g. release a job due in 20 min now).",
        )

    def handle(self, *args, once, tick, clock_offset, **options):
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        self.stderr.write(f"scheduler started (tick {tick:g} s{f', clock offset {clock_offset:g} s' if clock_offset else ''})")
        while not stopping:
            try:
                report = services.schedules_tick(now=time.time() + clock_offset)
                if report.fired or report.skipped or report.completed or report.released or report.errors or once:
                    self.stdout.write(json.dumps({k: v for k, v in report.__dict__.items()}))
            except Exception as exc:  # keep ticking through a store or queue outage
                if once:
                    raise
                self.stderr.write(f"scheduler tick failed: {exc}")
            if once:
                return
            # Tick on the wall clock's boundaries (due times are whole seconds): a due
            # time is seen a few milliseconds after it passes, not up to a tick later.
            now = time.time()
            pause = tick - (now % tick) + 0.02
            while pause > 0 and not stopping:
                time.sleep(min(pause, 0.5))
                pause -= 0.5
