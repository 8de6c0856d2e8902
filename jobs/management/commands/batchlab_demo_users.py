"""`manage.py batchlab_demo_users`: the demo accounts of the embedded default (demo/demo, admin/admin)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create the embedded default's accounts: user demo/demo and staff admin/admin. Embedded mode only."

    def handle(self, *args, **options):
        if not settings.EMBEDDED:
            raise CommandError("Demo accounts exist only in the embedded default (BATCHLAB_EMBEDDED=1).")
        User = get_user_model()
        for username, staff in (("demo", False), ("admin", True)):
            user, _ = User.objects.get_or_create(username=username)
            user.is_staff = staff
            user.is_superuser = staff
            user.set_password(username)
            user.save()
            token, _ = Token.objects.get_or_create(user=user)
            role = "staff" if staff else "user"
            self.stdout.write(f"{role} {username}/{username}, API token {token.key}")
