"""`manage.py batchlab_dlq [list|redrive]`: look at the dead-letter queue and redrive it."""

import json

from django.core.management.base import BaseCommand

from jobs import selectors, services


class Command(BaseCommand):
    help = "List the dead-letter queue's messages, or redrive them to the jobs queue."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "redrive"], nargs="?", default="list")

    def handle(self, *args, action, **options):
        if action == "list":
            letters = selectors.dead_letters_peek(max_messages=100)
            self.stdout.write(json.dumps({"count": len(letters), "messages": [
                {"message_id": m.message_id, "job_id": m.job_id, "receive_count": m.receive_count} for m in letters
            ]}, indent=2))
        else:
            self.stdout.write(json.dumps(services.dlq_redrive(actor="cli"), indent=2))
