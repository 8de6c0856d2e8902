"""`collect`: a workflow's fan-in step; returns what its parents ended with (`ctx.parents`), as much inline as fits."""

import json

from django.conf import settings

from jobs.handlers.registry import job_type

# Room kept in the result for the keys around the parents and the references.
MARGIN_BYTES = 4096


def _size(value) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


@job_type("collect", example={})
def collect(payload: dict, ctx) -> dict:
    """Return {"parents": {step: {status, result, ...}}}: each parent's outcome, inline while the result fits.

    Parents' results stay where they are (on the parents' jobs); a parent whose
    result would take the collected result past BATCHLAB_MAX_RESULT_BYTES is named
    by its job instead (`result_url`), and `by_reference` counts those.
    """
    parents = dict(ctx.parents or {})
    budget = settings.BATCHLAB_MAX_RESULT_BYTES - MARGIN_BYTES
    out, used, referenced = {}, 0, 0
    for name in sorted(parents):
        seen = parents[name]
        size = _size(seen) + len(name) + 8
        if used + size <= budget:
            out[name] = seen
            used += size
        else:
            referenced += 1
            out[name] = {"status": seen.get("status"), "job_id": seen.get("job_id"),
                         "result_url": f"/jobs/{seen.get('job_id')}"}
            used += _size(out[name]) + len(name) + 8
    ctx.progress(len(parents), len(parents))
    return {"parents": out, "count": len(parents), "by_reference": referenced}
