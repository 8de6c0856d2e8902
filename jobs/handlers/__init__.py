"""Job types: one module per type, registered with `@job_type`; import order registers them.

BATCHLAB_HANDLER_MODULES names more modules (comma-separated, importable) whose
`@job_type`s register too: a user's job types, kept in their own package (the
README's "Adding a job type"), or the fault tests' `effect` type
(tests/faults/effect_sink.py). They are imported when Django starts (JobsConfig.ready),
so a module that cannot be imported stops the process at start-up, named.
"""

import importlib

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from jobs.handlers import builtin  # noqa: F401
from jobs.handlers.registry import (
    InvalidItem, JobCanceled, PermanentError, TransientError, item_type, job_type, job_type_get, job_types,
)

if settings.BATCHLAB_TEST_HANDLERS:
    from jobs.handlers import testing  # noqa: F401

for _module in settings.BATCHLAB_HANDLER_MODULES:
    try:
        importlib.import_module(_module)
    except Exception as exc:  # noqa: BLE001 - whatever stops the import (missing, a syntax error, its own imports)
        raise ImproperlyConfigured(
            f"BATCHLAB_HANDLER_MODULES names {_module!r}, which cannot be imported ({type(exc).__name__}: {exc})."
            " Install its package, or put the directory that holds it on PYTHONPATH, for every BatchLab process."
        ) from exc

__all__ = ["InvalidItem", "JobCanceled", "PermanentError", "TransientError", "item_type", "job_type", "job_type_get",
           "job_types"]
