"""`flaky`: a transient error on the first `failures` attempts, then success."""

from rest_framework import serializers

from jobs.handlers.registry import TransientError, job_type


class FlakyPayload(serializers.Serializer):
    failures = serializers.IntegerField(min_value=0, max_value=10)


@job_type("flaky", payload=FlakyPayload, example={"failures": 2})
def flaky(payload: dict, ctx) -> dict:
    """Raise a transient error on attempts 1..failures, then succeed."""
    failures = int(payload["failures"])
    if ctx.attempt <= failures:
        raise TransientError(f"Simulated transient failure {ctx.attempt} of {failures}.")
    return {"succeeded_on_attempt": ctx.attempt}
