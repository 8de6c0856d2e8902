"""`manage.py batchlab_recover [--loop]`: republish stale QUEUED jobs, re-queue expired leases, fail dead letters."""

import json
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from jobs import services


class Command(BaseCommand):
    help = "Run one recovery pass (or one every --interval seconds with --loop). Safe on several machines at once."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="Keep running a pass every --interval seconds.")
        parser.add_argument("--interval", type=int, default=settings.BATCHLAB_RECOVERY_INTERVAL)
        parser.add_argument("--stale-seconds", type=int, default=None, help="Override BATCHLAB_STALE_QUEUED_SECONDS.")

    def handle(self, *args, loop, interval, stale_seconds, **options):
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        while True:
            try:
                report = services.jobs_recover(stale_queued_seconds=stale_seconds)
                self.stdout.write(json.dumps(report.as_dict()))
            except Exception as exc:  # keep looping through a store or queue outage
                if not loop:
                    raise
                self.stderr.write(f"recovery pass failed: {exc}")
            if not loop:
                return
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline and not stopping:
                time.sleep(0.5)
            if stopping:
                return
