"""`fail`: always fails permanently, with the given message."""

from rest_framework import serializers

from jobs.handlers.registry import PermanentError, job_type


class FailPayload(serializers.Serializer):
    message = serializers.CharField(max_length=1000, required=False, default="This job was asked to fail.")


@job_type("fail", payload=FailPayload, example={"message": "something went wrong"})
def fail(payload: dict, ctx) -> None:
    """Fail at once (no retry) with `message`."""
    raise PermanentError(payload.get("message") or "This job was asked to fail.")
