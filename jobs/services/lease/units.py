"""The kinds of leased unit: a job and a chunk, each a record with a status, a lease and a fencing token.

A `UnitKind` tells the lease mechanism what it needs and nothing more: the model
and its key, the status attribute, the transitions that claim, renew, release
and expire a unit of that kind, and what a claim must also hold (a plain job is
claimed whole; an item job never is, its chunks are). Both models name their
lease attributes alike (attempts, max_attempts, claim_token, lease_owner,
lease_expires_at, available_at, republished), so the mechanism reads them by name.
"""

from dataclasses import dataclass
from typing import Callable

from pynamodb.models import Model

from jobs.states import (
    CHUNK_CLAIM,
    CHUNK_HEARTBEAT,
    CHUNK_LEASE_EXPIRED,
    CHUNK_RETRY_LATER,
    CLAIM,
    HEARTBEAT,
    LEASE_EXPIRED,
    RETRY_LATER,
    ChunkStatus,
    JobStatus,
    Transition,
    is_chunk_final,
    is_final,
)
from jobs.tables import JOB_SK, Chunk, Job, chunk_sk


@dataclass(frozen=True)
class UnitKind:
    name: str
    model: type[Model]
    status: object  # the status attribute of the model (Job.status, Chunk.chunk_status)
    status_name: str  # its Python name ("status", "chunk_status")
    processing: str  # the status a claimed unit holds
    waiting: str  # the status of a unit whose message is on the queue (or should be)
    claim: Transition
    renew: Transition
    retry_later: Transition
    expire: Transition
    is_final: Callable[[str], bool]
    # Extra condition every claim carries (None: none).
    claim_guard: object = None
    # Whether every write also sets UpdatedAt and adds 1 to Version (jobs: the ETag of GET /jobs/{id}).
    versioned: bool = False

    def attr(self, name: str):
        return getattr(self.model, name)

    def status_of(self, unit) -> str:
        return getattr(unit, self.status_name)


JOB = UnitKind(
    name="job", model=Job, status=Job.status, status_name="status", processing=JobStatus.PROCESSING, waiting=JobStatus.QUEUED,
    claim=CLAIM, renew=HEARTBEAT, retry_later=RETRY_LATER, expire=LEASE_EXPIRED, is_final=is_final,
    # An item job runs chunk by chunk, never whole.
    claim_guard=Job.chunks_total.does_not_exist(), versioned=True,
)

CHUNK = UnitKind(
    name="chunk", model=Chunk, status=Chunk.chunk_status, status_name="chunk_status", processing=ChunkStatus.PROCESSING,
    waiting=ChunkStatus.PENDING, claim=CHUNK_CLAIM, renew=CHUNK_HEARTBEAT, retry_later=CHUNK_RETRY_LATER,
    expire=CHUNK_LEASE_EXPIRED, is_final=is_chunk_final,
)


def unit_ref(kind: UnitKind, *, job_id: str, number: int | None = None) -> Model:
    """An unsaved model instance that names one unit (for a write by key, with no read first)."""
    if kind is JOB:
        return Job(job_id, JOB_SK)
    return Chunk(job_id, chunk_sk(int(number)))


def unit_label(unit) -> str:
    """How logs and errors name a unit: the job id, or "<job id>#<chunk number>"."""
    if isinstance(unit, Chunk):
        return f"{unit.job_id}#{int(unit.sk.split('#')[1])}"
    return unit.job_id


def kind_of(unit) -> UnitKind:
    return CHUNK if isinstance(unit, Chunk) else JOB
