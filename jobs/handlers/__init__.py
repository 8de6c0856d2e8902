"""Job types: one module per type, registered with `@job_type`; import order registers them."""

from django.conf import settings

from jobs.handlers import builtin  # noqa: F401
from jobs.handlers.registry import JobCanceled, PermanentError, TransientError, job_type, job_type_get, job_types

if settings.BATCHLAB_TEST_HANDLERS:
    from jobs.handlers import effects, testing  # noqa: F401

__all__ = ["JobCanceled", "PermanentError", "TransientError", "job_type", "job_type_get", "job_types"]
