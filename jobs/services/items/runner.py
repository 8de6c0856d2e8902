"""Runs one chunk of an item job in a worker: claim it, run its items one by one, record the outcomes and counters.

Every write goes through jobs.services.items.chunks. An item fails on its own
(PermanentError at once; TransientError or an unexpected error after
BATCHLAB_ITEM_ATTEMPTS tries); the chunk always ends DONE with each item's
result or error. Between items the runner renews the lease and looks at the job
for a cancel request (at most once a second), so a cancel stops a running chunk
between two items.
"""

import json
import logging
import time

from django.conf import settings

from jobs import metrics, objects
from jobs.chunk_content import chunk_items, chunk_outcomes
from jobs.handlers.registry import PermanentError, TransientError, job_type_get
from jobs.items import BadItem, split_item
from jobs.services.flow.gate import flow_gate, flow_started
from jobs.services.items import chunks
from jobs.services.items import keys as item_keys
from jobs.services.jobs.transitions import LeaseLost
from jobs.services.jobs.runner import worker_id
from jobs.states import CHUNK_FINISH, CHUNK_STOP, JobStatus, is_final
from jobs.tables import JOB_SK, Job

logger = logging.getLogger(__name__)

CANCEL_CHECK_SECONDS = 1.0


class ItemContext:
    """What an item handler gets besides its item: the job's options and where the item is."""

    def __init__(self, *, job: Job, chunk: int, payload: dict):
        self.job_id = job.job_id
        self.chunk = chunk
        self.payload = payload
        self.line = 0
        self.attempt = 1

    def check_cancel(self) -> None:
        """Items are short: the runner checks between items; kept for handlers shared with payload jobs."""

    def progress(self, done: int, total: int) -> None:
        """Progress of an item job is counted per item by the runner."""


def _error(code: str, message: str) -> dict:
    return {"e": {"code": code, "message": message[:1000]}}


def _run_item(handler, item, ctx: ItemContext) -> dict:
    """One item's outcome: {"r": result} or {"e": {code, message}}; transient errors tried again."""
    last = None
    for attempt in range(1, settings.BATCHLAB_ITEM_ATTEMPTS + 1):
        ctx.attempt = attempt
        try:
            result = handler(item, ctx)
        except PermanentError as exc:
            return _error("permanent_error", str(exc) or exc.__class__.__name__)
        except TransientError as exc:
            last = _error("transient_error", f"Gave up after {attempt} tries: {exc}")
        except Exception as exc:  # a bug in the handler: logged, tried again like a transient error
            logger.exception("job %s item %s: handler raised", ctx.job_id, ctx.line)
            last = _error("handler_exception", f"{exc.__class__.__name__}: {exc}")
        else:
            try:
                encoded = json.dumps(result, allow_nan=False)
            except (TypeError, ValueError) as exc:
                return _error("result_not_serializable", f"The handler returned a value that is not JSON: {exc}.")
            if len(encoded) > settings.BATCHLAB_MAX_RESULT_BYTES:
                return _error("result_too_large", f"The result is {len(encoded)} bytes.")
            return {"r": json.loads(encoded)}
        time.sleep(min(1.0, 0.05 * 2 ** (attempt - 1)))
    return last


def _counts(outcomes: list) -> tuple[int, int, int]:
    succeeded = sum(1 for o in outcomes if o and "r" in o)
    failed = sum(1 for o in outcomes if o and "e" in o)
    skipped = sum(1 for o in outcomes if o and "s" in o)
    return succeeded, failed, skipped


def _store_outcomes(job_id: str, number: int, outcomes: list) -> tuple[list | None, str | None]:
    """Small outcomes stay in the chunk item; large ones go to S3 (one PutObject)."""
    size = len(json.dumps(outcomes, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size <= settings.BATCHLAB_INLINE_OUTCOMES_BYTES:
        return outcomes, None
    key = f"outcomes/{job_id}/{number:06d}.json"
    objects.json_put(key=key, value=outcomes)
    return None, key


def _canceled(job_id: str) -> bool:
    job = Job.get(job_id, JOB_SK, consistent_read=True)
    return bool(job.cancel_requested) or is_final(job.status)


def chunk_execute(*, job_id: str, number: int, worker: str | None = None, flow: dict | None = None) -> str:
    """Pass the flow gate, claim and run one chunk; returns the outcome: done, canceled, waiting, skipped:<reason>, lease_lost."""
    worker = worker or worker_id()
    gate = flow_gate(job_id=job_id, number=number, flow=flow)
    if not gate.passed:
        return gate.outcome
    claim = chunks.chunk_claim(job_id=job_id, number=number, worker=worker, actions=tuple(gate.actions))
    if isinstance(claim, str):
        logger.info("chunk %s#%s not claimed by %s: %s", job_id, number, worker, claim)
        return f"skipped:{claim}"
    flow_started(gate)
    try:
        outcome = _run_claimed(claim)
    except LeaseLost as exc:
        logger.warning("%s; its outcome is left to the new owner", exc)
        return "lease_lost"
    chunks.job_items_finish_if_done(job_id=job_id)
    return outcome


def _run_claimed(claim: chunks.ChunkClaim) -> str:
    chunk = claim.chunk
    job = Job.get(chunk.job_id, JOB_SK, consistent_read=True)
    number = int(chunk.number)
    outcomes = chunk_outcomes(chunk) or [None] * int(chunk.item_count)
    if job.cancel_requested or is_final(job.status):
        chunks.chunk_finish(claim=claim, outcomes=outcomes, outcomes_object=None, counts=_counts(outcomes), transition=CHUNK_STOP)
        return "canceled"
    if job.status == JobStatus.QUEUED:
        chunks.job_items_start(job=job)
    spec = job_type_get(job.type).items
    ctx = ItemContext(job=job, chunk=number, payload=dict(job.payload or {}))
    values = chunk_items(chunk, job)
    todo = [i for i, o in enumerate(outcomes) if o is None or ("e" in o and not o.get("invalid"))]
    pairs = {}
    for i in todo:
        try:
            if isinstance(values[i], BadItem):
                raise values[i]
            item, key = split_item(values[i])
            pairs[i] = (spec.check_item(item), key)
        except Exception as exc:  # BadItem or the type's InvalidItem: a line accepted with on_invalid=skip
            outcomes[i] = {**_error("invalid_item", str(exc)), "invalid": True}
    done_keys = item_keys.keys_completed(job=job, keys={k for _, k in pairs.values() if k})
    stopped = False
    last_check = time.monotonic()
    for i, (item, key) in pairs.items():
        if time.monotonic() - last_check >= CANCEL_CHECK_SECONDS:
            last_check = time.monotonic()
            chunks.chunk_heartbeat(claim=claim)
            if _canceled(job.job_id):
                stopped = True
                break
        if key and key in done_keys:
            outcomes[i] = {"s": f"idempotency_key {key!r} was completed by job {done_keys[key]}"}
            continue
        ctx.line = int(chunk.first_line) + i
        outcomes[i] = _run_item(spec.handler, item, ctx)
        if key and "r" in outcomes[i]:
            item_keys.key_record(job=job, key=key)
    stored, object_key = _store_outcomes(job.job_id, number, outcomes)
    transition = CHUNK_STOP if stopped else CHUNK_FINISH
    before = (int(chunk.succeeded or 0), int(chunk.failed or 0), int(chunk.skipped or 0))
    chunks.chunk_finish(claim=claim, outcomes=stored, outcomes_object=object_key, counts=_counts(outcomes), transition=transition)
    metrics.chunk_observe(type=job.type, outcome="canceled" if stopped else "done",
                          items=[after - was for after, was in zip(_counts(outcomes), before)])
    return "canceled" if stopped else "done"
