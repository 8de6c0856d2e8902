"""`manage.py batchlab_bootstrap`: create the DynamoDB tables, SQS queues and bucket, and add missing indexes (idempotent)."""

from django.core.management.base import BaseCommand, CommandError

from jobs import store_admin


class Command(BaseCommand):
    help = ("Create the tables (indexes, TTL), the SQS queues and the bucket; add the indexes an existing table "
            "lacks (never deletes one). Safe to run again.")

    def add_arguments(self, parser):
        parser.add_argument("--index-wait", type=float, default=600, metavar="SECONDS",
                            help="How long to wait for each new index to become ACTIVE (backfill) before giving up "
                                 "waiting; the index keeps building (default 600).")
        parser.add_argument("--poll", type=float, default=5, metavar="SECONDS", help="Seconds between DescribeTable calls while waiting (default 5).")

    def handle(self, *args, index_wait, poll, **options):
        report = store_admin.store_bootstrap(index_wait_seconds=index_wait, poll_seconds=poll)
        for line in report.lines:
            self.stdout.write(line)
        if report.failed:
            raise CommandError(f"index(es) not added: {', '.join(report.failed)} (see above)")
        if report.not_active:
            # Exit non-zero so that a deploy does not start code that queries an index still backfilling.
            raise CommandError(f"index(es) not ACTIVE yet: {', '.join(report.not_active)}; "
                               "run batchlab_bootstrap again (it waits again) before starting the new version")

