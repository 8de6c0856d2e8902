"""Fencing: a Claim's token guards every later write of its worker; a write whose answer was lost is recognised.

A write of a worker is one conditional UpdateItem that applies only while the
item still carries the claim's token. When DynamoDB applied a write but its answer
was lost (the connection failed after the request left), the SDK retries it and
the retry is refused by the write's own condition; re-reading the item tells that
case (our token, the transition's target status) from a real takeover.
"""

from dataclasses import dataclass, field

from pynamodb.exceptions import UpdateError

from jobs.services.store import allowed_by, is_condition_failure, logger, moves_to, utcnow
from jobs.states import JobStatus, Transition
from jobs.tables import JOB_SK, Job


@dataclass
class Claim:
    """What a worker holds while it runs a job: the fencing token and the job as claimed."""

    job: Job
    token: str
    worker: str
    pending_log: list = field(default_factory=list)

    @property
    def job_id(self) -> str:
        return self.job.job_id


class LeaseLost(Exception):
    """The claim's token no longer matches: another worker owns the job now, or it was failed."""


def read_quietly(job_id: str) -> Job | None:
    try:
        return Job.get(job_id, JOB_SK, consistent_read=True)
    except Exception:  # missing, or the store still unreachable: the caller re-raises its own error
        return None


def fenced_update(claim: Claim, transition: Transition, actions: list, *, read_back: bool = True) -> None:
    """One UpdateItem applied only while this claim still holds the job (else LeaseLost).

    read_back: refresh claim.job from the item the write returns (a heartbeat sees
    CancelRequested that way). A final write reads nothing back: it asks for no
    item, which DynamoDB then need not send nor botocore parse nor PynamoDB build.
    """
    actions = [*moves_to(transition), *actions, Job.updated_at.set(utcnow())]
    condition = allowed_by(transition) & (Job.claim_token == claim.token)
    try:
        if read_back:
            claim.job.update(actions=actions, condition=condition, add_version_condition=False)
        else:
            Job._get_connection().update_item(claim.job.job_id, range_key=claim.job.sk, actions=actions, condition=condition)
    except UpdateError as exc:
        if not is_condition_failure(exc):
            if _applied_before(claim, transition):
                return  # every try failed in transit, but one was applied
            raise
        if not _applied_before(claim, transition):
            raise LeaseLost(f"job {claim.job_id}: the claim of {claim.worker} was taken over") from None


def _applied_before(claim: Claim, transition: Transition) -> bool:
    """After a refused fenced write: did an earlier try of it apply (its answer lost, the SDK retried)?

    The claim's token stays on the item through every worker write, so the item
    still carrying our token and the transition's target status means our write
    is the one that moved it; anything else means another claim took over.
    """
    if transition.target == JobStatus.PROCESSING:
        return False  # a heartbeat's retry is not refused while the claim holds
    job = read_quietly(claim.job_id)
    if job is None or job.claim_token != claim.token or job.status != transition.target:
        return False
    logger.info("job %s: %s applied, its answer lost; recognised by the claim token", claim.job_id, transition.name)
    claim.job = job
    return True
