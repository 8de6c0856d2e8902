"""Django app config for the jobs domain."""

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Importing the package registers the built-in job types.
        from jobs import handlers  # noqa: F401

        # The Celery app must exist (and be current) before a task is published.
        import batchlab.celery  # noqa: F401
