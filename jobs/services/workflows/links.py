"""The rest of a step's end, told in links after its own write: each link one transaction conditional on the step's cursor.

A step whose end has more targets than its own write can carry (or that another
step's transaction ended, with no write of its own) carries a cursor, NotifyFrom:
the next target to tell. Each link tells the next LINK targets and moves the
cursor in the same transaction, on condition that the cursor is where it was read:
a link applies once, whoever runs it (the step's worker right after its write, or
recovery if that worker died). The last link removes the cursor (and the step from
the sparse NotifyIndex). Steps a link ends (a failed parent's children) get a
cursor of their own in that link, and are told on in turn.
"""

import uuid

from pynamodb.exceptions import PynamoDBConnectionError, TransactWriteError
from pynamodb.transactions import TransactWrite

from jobs.services.store import backoff_pause, is_condition_failure, logger
from jobs.services.workflows.graphs import graph_of, steps_publish
from jobs.services.workflows.release import LINK, bits_of, marker_cleared, targets_of, tell
from jobs.tables import JOB_SK, Job

TRIES = 12


class Retry(Exception):
    """The transaction was not applied (a condition moved, a conflict, a throttle): read again and try again."""


def transact(ref, actions: list, condition, ops: list) -> None:
    """`ref`'s update and `ops` in one TransactWriteItems (one UpdateItem without ops).

    Retry when nothing was written (a refused condition, a conflict, a throttle);
    other failures (no answer: it may have applied) are raised as they came.
    """
    try:
        if not ops:
            ref.update(actions=actions, condition=condition, add_version_condition=False)
            return
        with TransactWrite(connection=Job._get_connection().connection, client_request_token=uuid.uuid4().hex) as tx:
            tx.update(ref, actions=actions, condition=condition, add_version_condition=False)
            for op in ops:
                op(tx)
    except TransactWriteError as exc:
        reasons = [getattr(r, "code", None) for r in (getattr(exc, "cancellation_reasons", None) or []) if r is not None]
        if is_condition_failure(exc) or any(code and ("Throttl" in code or "Conflict" in code) for code in reasons):
            raise Retry(str(exc)) from None
        raise
    except Exception as exc:
        if is_condition_failure(exc):
            raise Retry(str(exc)) from None
        raise


def steps_tell_rest(job_ids: list[str]) -> None:
    """Tell what is left of these steps' ends, link by link, and of the steps those links end (best effort: recovery finishes)."""
    todo = list(dict.fromkeys(job_ids))
    while todo:
        job_id = todo.pop(0)
        try:
            todo += [j for j in step_tell_rest(job_id) if j not in todo]
        except (PynamoDBConnectionError, TransactWriteError, Retry) as exc:
            logger.warning("step %s: its end is not told to every target yet (%s); recovery will go on", job_id, exc)


def step_tell_rest(job_id: str) -> list[str]:
    """Every link left of one step's end; returns the steps those links ended (each with its own end to tell)."""
    ended: list[str] = []
    attempt = 0
    while True:
        job = Job.get(job_id, JOB_SK, consistent_read=True)
        if job.notify_from is None:
            return ended
        graph = graph_of(job.workflow_id)
        step = graph.steps[int(job.step_index)]
        targets = targets_of(graph, step)
        start = int(job.notify_from)
        batch = targets[start:start + LINK]
        told = tell(workflow_id=job.workflow_id, graph=graph, source=step.name, targets=batch,
                    bits=bits_of(status=job.status, upstream_failed=job.upstream_failed,
                                 upstream_canceled=job.upstream_canceled))
        end = start + len(batch)
        cursor = marker_cleared() if end >= len(targets) else [Job.notify_from.set(end)]
        try:
            transact(Job(job_id, JOB_SK), cursor, Job.notify_from == start, told.ops)
        except Retry:
            attempt += 1
            if attempt >= TRIES:
                raise
            backoff_pause(attempt)
            continue
        except Exception:
            # No answer: the link may have applied. Its releases are published (a duplicate
            # message is harmless: the claim refuses it); the next read tells where the cursor is.
            steps_publish(workflow_id=job.workflow_id, graph=graph, indices=told.released)
            raise
        attempt = 0
        steps_publish(workflow_id=job.workflow_id, graph=graph, indices=told.released)
        for call in told.committed:  # the workflow event's sends (a lost one: the due sweep releases it)
            call()
        ended += told.ended
