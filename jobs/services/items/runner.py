"""Runs one chunk of an item job: the chunk's work for the one runner (jobs.services.lease.runner): its items one by one, their outcomes kept as they go.

Every write goes through jobs.services.items.chunks. An item fails on its own
(PermanentError at once; TransientError or an unexpected error after
BATCHLAB_ITEM_ATTEMPTS tries); the chunk ends DONE with each item's result or
error. The lease keeper renews the chunk's lease however long an item takes,
and each renewal carries the outcomes so far (a checkpoint), so a chunk whose
worker dies, or that reaches its time limit, loses at most the items since the
last renewal; its next attempt runs only the items without an outcome. A chunk
out of attempts ends with its unrun items failed. Between items the runner looks
at the job for a cancel request (at most once a second).
"""

import json
import logging
import time

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from jobs import metrics
from jobs.chunk_content import chunk_items, chunk_outcomes
from jobs.exceptions import QueueUnavailable
from jobs.handlers.registry import PermanentError, TransientError, job_type_get
from jobs.items import BadItem, split_item
from jobs.selectors.workflows import step_parents
from jobs.services import publishing, webhooks
from jobs.services.flow.gate import flow_finished, gated_claim
from jobs.services.items import chunks, completion
from jobs.services.items import keys as item_keys
from jobs.services.jobs.runner import worker_id
from jobs.services.lease.claim import Claim, LeaseLost, Refused
from jobs.services.lease.keeper import LeaseHolder
from jobs.services.lease.outcome import Outcome
from jobs.services.lease.runner import LeasedWork, RetryLater, retry_direct, unit_execute
from jobs.services.store import StoreUnavailable, json_bytes, truncate
from jobs.states import CHUNK_FINISH, CHUNK_STOP, JobStatus, is_final
from jobs.tables import JOB_SK, Job

logger = logging.getLogger(__name__)

CANCEL_CHECK_SECONDS = 1.0


class ItemContext:
    """What an item handler gets besides its item: the job's options, where the item is, and the chunk's claim.

    `claim_token` is the fencing token of this run's claim on the chunk: a sink can
    refuse writes of a run that lost the chunk (as JobContext.claim_token for a job).
    """

    def __init__(self, *, job: Job, chunk: int, payload: dict, claim_token: str = ""):
        self.job_id = job.job_id
        self.chunk = chunk
        self.payload = payload
        self.claim_token = claim_token
        self.line = 0
        self.attempt = 1
        self._job = job
        self._parents = None

    @property
    def parents(self) -> dict:
        """A workflow item step's parents by name, as JobContext.parents; read on first use, once per chunk run."""
        if self._parents is None:
            self._parents = step_parents(self._job) if self._job.workflow_id else {}
        return self._parents

    def check_cancel(self) -> None:
        """Items are short: the runner checks between items; kept for handlers shared with payload jobs."""

    def progress(self, done: int, total: int) -> None:
        """Progress of an item job is counted per item by the runner."""


class ChunkHolder(LeaseHolder):
    """A running chunk's lease, with its outcomes: each renewal carries them when they changed (a checkpoint)."""

    def __init__(self, claim: Claim, outcomes: list):
        super().__init__(claim)
        self.outcomes = outcomes
        self._changed = False
        self.current: int | None = None  # the index of the item running now
        self.ran = 0  # items this attempt gave an outcome

    def record(self, index: int, outcome: dict) -> None:
        with self._lock:
            self.outcomes[index] = outcome
            self._changed = True
            self.ran += 1

    def snapshot(self) -> list:
        with self._lock:
            return list(self.outcomes)

    def renew(self) -> None:  # called under the holder's lock (LeaseHolder.write)
        chunks.chunk_checkpoint(claim=self.claim, outcomes=list(self.outcomes) if self._changed else None)
        self._changed = False


def _error(code: str, message: str) -> dict:
    return {"e": {"code": code, "message": truncate(message)}}


def _run_item(handler, item, ctx: ItemContext) -> dict:
    """One item's outcome: {"r": result} or {"e": {code, message}}; transient errors tried again."""
    last = None
    for attempt in range(1, settings.BATCHLAB_ITEM_ATTEMPTS + 1):
        ctx.attempt = attempt
        try:
            result = handler(item, ctx)
        except SoftTimeLimitExceeded:
            raise  # the chunk's time limit: the runner keeps what is done and leaves the rest for later
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
            size = json_bytes(result)
            if size > settings.BATCHLAB_MAX_RESULT_BYTES:
                return _error("result_too_large", f"The result is {size} bytes; the limit is {settings.BATCHLAB_MAX_RESULT_BYTES}.")
            return {"r": json.loads(encoded)}
        time.sleep(min(1.0, 0.05 * 2 ** (attempt - 1)))
    return last


def _canceled(job_id: str) -> bool:
    job = Job.get(job_id, JOB_SK, consistent_read=True)
    return bool(job.cancel_requested) or is_final(job.status)


def _max_attempts(chunk) -> int:
    return int(chunk.max_attempts if chunk.max_attempts is not None else settings.BATCHLAB_MAX_ATTEMPTS)


class ChunkWork(LeasedWork):
    """One chunk of an item job: the items without an outcome, one by one."""

    kind_name = "chunk"

    def __init__(self, job_id: str, number: int, flow: dict | None = None):
        self.job_id, self.number, self.flow = job_id, number, flow
        self.holder: ChunkHolder | None = None
        self.job: Job | None = None
        self.delta = (0, 0, 0)

    def claim(self, *, worker: str) -> Claim | Refused:
        def claim(actions, also):
            return chunks.chunk_claim(
                job_id=self.job_id, number=self.number, worker=worker, actions=tuple(actions), also=tuple(also))
        return gated_claim(job_id=self.job_id, number=self.number, flow=self.flow, claim=claim)

    def release(self, claim: Claim) -> None:
        flow_finished(claim.unit)  # the slots its claim took, if its type is limited

    def exhausted(self, refused: Refused) -> None:
        chunk = refused.unit
        outcomes = chunk_outcomes(chunk) or [None] * int(chunk.item_count)
        message = (f"No outcome of this item was kept in any of its chunk's {int(chunk.attempts)} attempts (its worker "
                   f"died, or it reached the time limit of {settings.BATCHLAB_MAX_JOB_SECONDS} s); it may have run in"
                   " one of them. Retry the job to run it again.")
        if chunks.chunk_give_up(chunk=chunk, outcomes=outcomes, code="chunk_attempts_exhausted", message=message):
            completion.job_items_finish_if_done(job_id=self.job_id)

    def observe(self, *, claim: Claim, outcome: Outcome, seconds: float) -> None:
        if self.job is not None:
            metrics.chunk_observe(type=self.job.type, outcome="canceled" if outcome is Outcome.CANCELED else "done", items=list(self.delta))

    def run(self, claim: Claim) -> Outcome:
        chunk = claim.unit
        job = self.job = Job.get(chunk.job_id, JOB_SK, consistent_read=True)
        outcomes = chunk_outcomes(chunk) or [None] * int(chunk.item_count)
        if job.cancel_requested or is_final(job.status):
            self.delta = chunks.chunk_finish(claim=claim, outcomes=outcomes, transition=CHUNK_STOP)
            completion.job_items_finish_if_done(job_id=self.job_id)
            return Outcome.CANCELED
        if job.status == JobStatus.QUEUED:
            completion.job_items_start(job=job)
        spec = job_type_get(job.type).items
        ctx = ItemContext(job=job, chunk=int(chunk.number), payload=dict(job.payload or {}), claim_token=claim.token)
        try:
            values = chunk_items(chunk, job)
        except Exception as exc:  # S3 did not answer: nothing ran, try the chunk later
            self.holder = ChunkHolder(claim, outcomes)
            return self._later(claim, f"Its items could not be read: {exc}")
        rerun = bool(chunk.rerun_failed)
        if rerun:  # the job was retried: its failed items run again (their outcomes reset once, with the first write)
            outcomes = [None if o and "e" in o and not o.get("invalid") else o for o in outcomes]
        todo = [i for i, o in enumerate(outcomes) if o is None]
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
        with ChunkHolder(claim, outcomes) as holder:
            self.holder = holder
            holder._changed = rerun
            for i, (item, key) in pairs.items():
                holder.check_lease()
                if time.monotonic() - last_check >= CANCEL_CHECK_SECONDS:
                    last_check = time.monotonic()
                    if _canceled(job.job_id):
                        stopped = True
                        break
                if key and key in done_keys:
                    holder.record(i, {"s": f"idempotency_key {key!r} was completed by job {done_keys[key]}"})
                    continue
                ctx.line = int(chunk.first_line) + i
                holder.current = i
                outcome = _run_item(spec.handler, item, ctx)
                holder.current = None
                holder.record(i, outcome)
                if key and "r" in outcome:
                    item_keys.key_record(job=job, key=key)
        return self._finish(claim, CHUNK_STOP if stopped else CHUNK_FINISH)

    def _finish(self, claim: Claim, transition) -> Outcome:
        outcomes = self.holder.snapshot()
        try:
            self.delta = chunks.chunk_finish(claim=claim, outcomes=outcomes, transition=transition)
        except StoreUnavailable as exc:  # conflicts or throttles on every try: keep the outcomes, finish later
            return self._later(claim, f"Its finish could not be written: {exc}")
        completion.job_items_finish_if_done(job_id=self.job_id)
        if transition is CHUNK_FINISH:
            webhooks.job_progress_record(job=self.job)  # at most one per 5 s, only while the job runs
        return Outcome.CANCELED if transition is CHUNK_STOP else Outcome.COMPLETED

    def time_limit(self, claim: Claim) -> Outcome:
        holder = self.holder
        if holder is None:
            return self._later(claim, "It reached its time limit before its items ran.")
        if holder.current is not None and holder.ran == 0:
            # This one item used the whole limit on its own: it fails, so that every attempt moves on.
            holder.record(holder.current, _error(
                "time_limit_exceeded", f"The item ran longer than the chunk's time limit of {settings.BATCHLAB_MAX_JOB_SECONDS} s."))
        return self._later(claim, f"It reached its time limit of {settings.BATCHLAB_MAX_JOB_SECONDS} s.")

    def _later(self, claim: Claim, reason: str) -> Outcome:
        """The rest of the chunk runs on its next attempt (RetryLater); with none left, its unrun items fail now."""
        chunk = claim.unit
        outcomes = self.holder.snapshot() if self.holder is not None else (chunk_outcomes(chunk) or [None] * int(chunk.item_count))
        if int(chunk.attempts) >= _max_attempts(chunk):
            ended = chunks.unrun_failed(outcomes, code="chunk_attempts_exhausted",
                                        message=f"{reason} No attempts were left for the items it had not run.")
            self.delta = chunks.chunk_finish(claim=claim, outcomes=ended)
            completion.job_items_finish_if_done(job_id=self.job_id)
            return Outcome.COMPLETED

        def record(delay: float) -> bool:
            try:
                chunks.chunk_retry_later(claim=claim, outcomes=outcomes, delay=delay, reason=reason)
            except LeaseLost:
                return False
            return True

        def publish(delay: float) -> None:
            try:
                publishing.chunks_publish(job_id=self.job_id, numbers=[self.number], delay_seconds=int(delay),
                                          **publishing.job_route(self.job or Job.get(self.job_id, JOB_SK)))
            except QueueUnavailable:
                pass  # stays PENDING; the recovery pass republishes it

        def give_up() -> None:
            ended = chunks.unrun_failed(outcomes, code="chunk_attempts_exhausted", message=reason)
            self.delta = chunks.chunk_finish(claim=claim, outcomes=ended)
            completion.job_items_finish_if_done(job_id=self.job_id)

        raise RetryLater(label=claim.label, message=reason, attempt=int(chunk.attempts),
                         record=record, publish=publish, give_up=give_up)


def chunk_execute(*, job_id: str, number: int, worker: str | None = None, defer_retry: bool = False,
                  flow: dict | None = None) -> Outcome:
    """Claim and run one chunk; returns its Outcome (COMPLETED: DONE, every item has an outcome).

    A chunk that reached its time limit, or whose finish could not be written,
    raises RetryLater when `defer_retry` (the Celery task retries it as an SQS
    delay); else it is recorded and published here the same way (RETRYING).
    """
    worker = worker or worker_id()
    try:
        return unit_execute(ChunkWork(job_id, int(number), flow), worker=worker, label=f"{job_id}#{number}")
    except RetryLater as retry:
        if defer_retry:
            raise
        return retry_direct(retry)
