"""What the current log lines are about: the job (id, type, attempt), the worker and the HTTP request.

Plain context variables, set where the work starts (the runner for a job, a
middleware for a request) and read by the logging filter (batchlab.logs), so
every log line in between carries them without being passed around.
"""

import contextlib
import contextvars

FIELDS = ("job_id", "job_type", "attempt", "worker", "request_id")
_vars = {name: contextvars.ContextVar(f"batchlab_log_{name}", default=None) for name in FIELDS}


def current() -> dict:
    """{field: value or None} for every field."""
    return {name: var.get() for name, var in _vars.items()}


def bind(**values) -> list:
    """Set fields (unknown names raise); returns the tokens `unbind` takes."""
    return [_vars[name].set(value) for name, value in values.items()]


def unbind(tokens: list) -> None:
    for token in reversed(tokens):
        token.var.reset(token)


@contextlib.contextmanager
def bound(**values):
    tokens = bind(**values)
    try:
        yield
    finally:
        unbind(tokens)
