"""What a delivery worker does with each message of the webhooks queue: hand an event over and try its first delivery, or try one delivery."""

from jobs import log_context
from jobs.services.store import logger
from jobs.services.webhooks.deliveries import delivery_claim
from jobs.services.webhooks.outbox import event_dispatch
from jobs.services.webhooks.sending import delivery_try


def event_dispatch_run(*, job_id: str, event_id: str, worker: str) -> str:
    """The event out of the job's outbox into its deliveries; the first one tried now. Returns its outcome, or "handed_over"/"gone"."""
    with log_context.bound(job_id=job_id, worker=worker):
        handed = event_dispatch(job_id=job_id, event_id=event_id, worker=worker)
        if not handed:
            return "gone"
        outcome = "handed_over"
        for claim, endpoint in handed:
            outcome = delivery_try(claim=claim, endpoint=endpoint)
        return outcome


def delivery_run(*, hook_id: str, event_id: str, worker: str) -> str:
    """Claim the delivery and try it once; "skipped:<why>" when it is not this message's to try."""
    claim = delivery_claim(hook_id=hook_id, event_id=event_id, worker=worker)
    if isinstance(claim, str):
        logger.debug("delivery %s/%s not claimed by %s: %s", hook_id, event_id, worker, claim)
        return f"skipped:{claim}"
    with log_context.bound(job_id=claim.delivery.job_id, worker=worker):
        return delivery_try(claim=claim)
