"""`manage.py batchlab_bootstrap`: create the DynamoDB tables and SQS queues (idempotent)."""

from django.core.management.base import BaseCommand

from jobs import store_admin


class Command(BaseCommand):
    help = "Create the jobs table (indexes, TTL), the idempotency table and the SQS queues. Safe to run again."

    def handle(self, *args, **options):
        for line in store_admin.bootstrap_all():
            self.stdout.write(line)
