"""Job types for fault tests, registered only with BATCHLAB_TEST_HANDLERS=1.

`countrun` appends a line when its handler starts and one when it finishes to
BATCHLAB_RUN_LOG (`<job id> <event> <pid> <epoch seconds>`) so that tests can count
runs, and see when each ran, across processes; `crash` kills its own worker process.
"""

import os
import time

from django.conf import settings
from rest_framework import serializers

from jobs.handlers.registry import PermanentError, item_type, job_type


def _record(job_id: str, event: str, *, at: bool = False) -> None:
    if settings.BATCHLAB_RUN_LOG:
        with open(settings.BATCHLAB_RUN_LOG, "a", encoding="utf-8") as log:
            log.write(f"{job_id} {event} {os.getpid()}" + (f" {time.time():.6f}" if at else "") + "\n")


class CountrunPayload(serializers.Serializer):
    seconds = serializers.FloatField(min_value=0, max_value=120, required=False, default=0)


@job_type("countrun", payload=CountrunPayload, example={"seconds": 1})
def countrun(payload: dict, ctx) -> dict:
    """Record each start and finish in the run log; sleep `seconds` in between."""
    _record(ctx.job_id, "start", at=True)
    seconds = float(payload.get("seconds", 0))
    steps = max(1, int(seconds * 4))
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)
        ctx.check_cancel()
        ctx.progress(step, steps)
    _record(ctx.job_id, "finish", at=True)
    return {"pid": os.getpid()}


class CrashPayload(serializers.Serializer):
    crashes = serializers.IntegerField(min_value=0, max_value=100, required=False, default=100)


@job_type("crash", payload=CrashPayload, example={"crashes": 100})
def crash(payload: dict, ctx) -> dict:
    """Kill the worker process on each of the first `crashes` runs (counted in the run log)."""
    runs = 0
    if settings.BATCHLAB_RUN_LOG and os.path.exists(settings.BATCHLAB_RUN_LOG):
        with open(settings.BATCHLAB_RUN_LOG, encoding="utf-8") as log:
            runs = sum(1 for line in log if line.startswith(f"{ctx.job_id} crash"))
    if runs < int(payload.get("crashes", 100)):
        _record(ctx.job_id, "crash")
        os._exit(1)
    _record(ctx.job_id, "finish")
    return {"survived_after": runs}


class ProbeOptions(serializers.Serializer):
    # Items whose `fail` is true fail permanently until this file exists (then they succeed).
    cure_file = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


@item_type("probe", options=ProbeOptions, chunk_size=100, example_items=[{"v": "a"}, {"v": "b", "sleep": 0.1}])
def probe(item, ctx) -> dict:
    """A test item: logs its run, may sleep (`sleep`), kill its worker (`crash`) or fail (`fail`)."""
    item = item if isinstance(item, dict) else {"v": item}
    _record(f"{ctx.job_id}#{ctx.chunk}", f"item {ctx.line}")
    if item.get("sleep"):
        time.sleep(float(item["sleep"]))
    if item.get("crash") and _crashes(ctx) < 1:
        _record(f"{ctx.job_id}#{ctx.chunk}", "crash")
        os._exit(1)
    cure = ctx.payload.get("cure_file")
    if item.get("fail") and not (cure and os.path.exists(cure)):
        raise PermanentError(f"probe item {ctx.line} was asked to fail")
    out = {"v": item.get("v"), "line": ctx.line}
    if item.get("parents"):  # a workflow's item step: what its parents ended with, as its items see them
        out["parents"] = {name: seen["status"] for name, seen in ctx.parents.items()}
    return out


def _crashes(ctx) -> int:
    if not (settings.BATCHLAB_RUN_LOG and os.path.exists(settings.BATCHLAB_RUN_LOG)):
        return 0
    with open(settings.BATCHLAB_RUN_LOG, encoding="utf-8") as log:
        return sum(1 for line in log if line.startswith(f"{ctx.job_id}#") and " crash " in line)
