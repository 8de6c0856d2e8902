"""Job types: one module per type, registered with `@job_type`; import order registers them.

BATCHLAB_HANDLER_MODULES names more modules (comma-separated, importable) whose
`@job_type`s register too: job types kept outside this package, such as the fault
tests' `effect` type (tests/faults/effect_sink.py).
"""

import importlib

from django.conf import settings

from jobs.handlers import builtin  # noqa: F401
from jobs.handlers.registry import JobCanceled, PermanentError, TransientError, job_type, job_type_get, job_types

if settings.BATCHLAB_TEST_HANDLERS:
    from jobs.handlers import testing  # noqa: F401

for _module in settings.BATCHLAB_HANDLER_MODULES:
    importlib.import_module(_module)

__all__ = ["JobCanceled", "PermanentError", "TransientError", "job_type", "job_type_get", "job_types"]
