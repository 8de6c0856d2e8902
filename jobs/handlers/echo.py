"""`echo`: returns its payload unchanged."""

from jobs.handlers.registry import job_type


@job_type("echo", example={"message": "hello, BatchLab"})
def echo(payload: dict, ctx) -> dict:
    """Return the payload as the result."""
    return payload
