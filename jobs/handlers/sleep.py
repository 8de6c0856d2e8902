"""`sleep`: waits `seconds`, reporting progress each step and honouring cancel."""

import math
import time

from rest_framework import serializers

from jobs.handlers.registry import job_type

MAX_SLEEP_SECONDS = 300


class SleepPayload(serializers.Serializer):
    seconds = serializers.FloatField(min_value=0, max_value=MAX_SLEEP_SECONDS)


@job_type("sleep", payload=SleepPayload, example={"seconds": 5})
def sleep(payload: dict, ctx) -> dict:
    """Sleep for `seconds` (at most 300), one progress step per second."""
    seconds = float(payload["seconds"])
    steps = max(1, math.ceil(seconds))
    ctx.progress(0, steps)
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)
        ctx.check_cancel()
        ctx.progress(step, steps)
    return {"slept": seconds}
