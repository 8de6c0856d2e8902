"""Dead letters: a unit whose message reached the dead-letter queue (a crash loop) ends for good, once; staff redrive them.

A job (or a chunk) whose message kept killing its worker is in the dead-letter
queue after BATCHLAB_MAX_RECEIVE_COUNT receives. Recovery ends it: a job FAILED
(`dead_lettered`), a chunk DONE with its unrun items failed. The unit records the
dead letter it was ended for (DeadLetterId), and the message stays for redrive:
a unit retried since is never ended again by that same letter.
"""

import time

from jobs import queues
from jobs.chunk_content import chunk_outcomes
from jobs.services import publishing
from jobs.services.items.chunks import chunk_give_up
from jobs.services.items.completion import job_items_finish_if_done
from jobs.services.jobs.actions import job_requeue_final
from jobs.services.jobs.transitions import job_give_up
from jobs.services.store import logger
from jobs.states import RETRY, ChunkStatus, JobStatus, is_chunk_final, is_final
from jobs.tables import JOB_SK, Chunk, Job, chunk_sk


def _reason(letter) -> str:
    return (f"Its message was delivered {letter.receive_count} times without finishing "
            "(the worker died each time) and was moved to the dead-letter queue.")


def dead_letters_recover(report) -> None:
    """End the units whose messages sit in the dead-letter queue (each at most once per letter); the messages stay."""
    for letter in queues.dlq_peek(max_messages=100):
        if not letter.job_id:
            continue
        try:
            if letter.number is None:
                _job_letter(letter, report)
            else:
                _chunk_letter(letter, report)
        except Exception as exc:  # this letter alone: the pass goes on
            logger.warning("recovery: dead letter %s could not be acted on: %s", letter.message_id, exc)
            report.errors.append((f"dead letter {letter.message_id}", str(exc)[:300]))


def _live(unit, processing: str, status: str) -> bool:
    return status == processing and (unit.lease_expires_at or 0) >= time.time()


def _job_letter(letter, report) -> None:
    try:
        job = Job.get(letter.job_id, JOB_SK, consistent_read=True)
    except Job.DoesNotExist:
        return
    if is_final(job.status) or job.dead_letter_id == letter.message_id or job.chunks_total is not None:
        return
    if _live(job, JobStatus.PROCESSING, job.status):
        return  # a live worker holds it; this message was a duplicate
    if job_give_up(job=job, code="dead_lettered", message=_reason(letter),
                   actions=[Job.dead_letter_id.set(letter.message_id)]):
        report.dead_lettered.append(job.job_id)


def _chunk_letter(letter, report) -> None:
    try:
        chunk = Chunk.get(letter.job_id, chunk_sk(letter.number), consistent_read=True)
    except Chunk.DoesNotExist:
        return
    if is_chunk_final(chunk.chunk_status) or chunk.dead_letter_id == letter.message_id:
        return
    if _live(chunk, ChunkStatus.PROCESSING, chunk.chunk_status):
        return
    outcomes = chunk_outcomes(chunk) or [None] * int(chunk.item_count)
    if chunk_give_up(chunk=chunk, outcomes=outcomes, code="dead_lettered", message=_reason(letter),
                     actions=[Chunk.dead_letter_id.set(letter.message_id)]):
        report.chunks_ended.append(f"{letter.job_id}#{letter.number}")
        if job_items_finish_if_done(job_id=letter.job_id):
            report.items_ended.append(letter.job_id)


def dlq_redrive(*, actor: str) -> dict:
    """Move every dead-letter message back to the jobs queue; their jobs go back to QUEUED.

    A FAILED job whose message is redriven gets a fresh budget of attempts (as a
    retry would); a message whose job is gone or already completed is dropped. A
    chunk's message goes back as it is: a chunk that ended meanwhile drops it at its
    claim (retry the job to run its failed items again).
    """
    moved, dropped = [], []
    for message in queues.dlq_receive(max_messages=100):
        job_id = message.job_id
        job = None
        if job_id:
            try:
                job = Job.get(job_id, JOB_SK, consistent_read=True)
            except Job.DoesNotExist:
                job = None
        if job is None or (message.number is None and job.status in (JobStatus.COMPLETED, JobStatus.CANCELED)):
            queues.dlq_delete(message)
            dropped.append(job_id)
            continue
        if message.number is not None:
            publishing.chunks_publish(job_id=job_id, numbers=[message.number], **publishing.job_route(job))
        elif RETRY.allows(job.status):  # FAILED (CANCELED was dropped above)
            job_requeue_final(job=job, event="redriven", message=f"Redriven from the dead-letter queue by {actor}.")
        else:
            publishing.job_publish(job_id=job.job_id, **publishing.job_route(job))
        queues.dlq_delete(message)
        moved.append(job_id if message.number is None else f"{job_id}#{message.number}")
    logger.info("dead-letter redrive by %s: moved=%s dropped=%s", actor, moved, dropped)
    return {"redriven": moved, "dropped": dropped}
