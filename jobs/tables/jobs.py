"""PynamoDB models: the DynamoDB schema and nothing else (the jobs table's indexes: jobs.tables.job_indexes).

Attribute names in DynamoDB are PascalCase; Python stays snake_case. Table names
and endpoints come from settings when the model is first used (no I/O at import).

Single-table design for item jobs: a job and its chunks share the partition key
(JobId); the sort key (SK) is "JOB" for the job item and "CHUNK#000001"... for
its chunks, so that one Query reads a job's chunks in order. Chunk items carry
none of the attributes the job indexes are keyed on (Owner, Status, ListShard,
CreatedAt): they never appear in a job listing. Their state is `ChunkStatus`.
"""

from django.conf import settings
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from jobs.tables.job_indexes import AllIndex, DueIndex, NotifyIndex, OutboxIndex, OwnerIndex, StatusIndex, WaitingIndex

# Every job also carries ListShard = "ALL" so that the all-jobs listing (staff)
# is a Query on one index partition, newest first. One partition takes ~1,000
# writes/s, ten times the design's peak job creation.
ALL_SHARD = "ALL"
DUE_SHARD = "DUE"
OUTBOX_SHARD = "OUTBOX"
NOTIFY_SHARD = "NOTIFY"

# The sort key of a job item, and the prefix of its chunks' sort keys.
JOB_SK = "JOB"
CHUNK_SK_PREFIX = "CHUNK#"


# Six digits sort every chunk number in order; a job has at most BATCHLAB_MAX_CHUNKS (checked below it).
MAX_CHUNK_NUMBER = 999_999


def chunk_sk(number: int) -> str:
    """The sort key of chunk `number` (1-based), zero-padded so that keys sort by number."""
    if not 1 <= number <= MAX_CHUNK_NUMBER:
        raise ValueError(f"chunk number {number} is outside 1..{MAX_CHUNK_NUMBER}")
    return f"{CHUNK_SK_PREFIX}{number:06d}"


class TimelineEntry(MapAttribute):
    at = UTCDateTimeAttribute(attr_name="At")
    event = UnicodeAttribute(attr_name="Event")
    status = UnicodeAttribute(attr_name="Status", null=True)
    message = UnicodeAttribute(attr_name="Message", null=True)
    worker = UnicodeAttribute(attr_name="Worker", null=True)


class _TableMeta:
    """Connection settings shared by every table."""

    region = settings.AWS_REGION
    host = settings.AWS_ENDPOINT_URL_DYNAMODB
    billing_mode = "PAY_PER_REQUEST"
    # Fail fast: the API answers 503 rather than holding a request for a minute.
    connect_timeout_seconds = 3
    read_timeout_seconds = 10
    max_retry_attempts = 2


class Job(Model):
    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_TABLE_NAME

    job_id = UnicodeAttribute(hash_key=True, attr_name="JobId")
    sk = UnicodeAttribute(range_key=True, attr_name="SK", default=JOB_SK)
    name = UnicodeAttribute(attr_name="Name")
    type = UnicodeAttribute(attr_name="Type")
    payload = JSONAttribute(attr_name="Payload")
    status = UnicodeAttribute(attr_name="Status")
    owner = UnicodeAttribute(attr_name="Owner", default="")
    list_shard = UnicodeAttribute(attr_name="ListShard", default=ALL_SHARD)
    created_at = UTCDateTimeAttribute(attr_name="CreatedAt")
    updated_at = UTCDateTimeAttribute(attr_name="UpdatedAt")
    started_at = UTCDateTimeAttribute(attr_name="StartedAt", null=True)
    finished_at = UTCDateTimeAttribute(attr_name="FinishedAt", null=True)
    # Epoch seconds from which the job should be picked up (now, or a retry's
    # backoff); the recovery pass republishes QUEUED jobs long past it.
    available_at = NumberAttribute(attr_name="AvailableAt")
    attempts = NumberAttribute(attr_name="Attempts", default=0)
    max_attempts = NumberAttribute(attr_name="MaxAttempts")
    result = JSONAttribute(attr_name="Result", null=True)
    error = MapAttribute(attr_name="Error", null=True)
    progress_done = NumberAttribute(attr_name="ProgressDone", default=0)
    progress_total = NumberAttribute(attr_name="ProgressTotal", default=0)
    timeline = ListAttribute(of=TimelineEntry, attr_name="Timeline", default=list)
    cancel_requested = BooleanAttribute(attr_name="CancelRequested", default=False)
    # The claim's lease: which worker holds the job, the token that fences its
    # writes, and when the lease runs out unless renewed.
    lease_owner = UnicodeAttribute(attr_name="LeaseOwner", null=True)
    claim_token = UnicodeAttribute(attr_name="ClaimToken", null=True)
    lease_expires_at = NumberAttribute(attr_name="LeaseExpiresAt", null=True)
    # Incremented by every write (ETag on GET). Not PynamoDB's VersionAttribute:
    # that one needs the current value before an update, which would cost a
    # GetItem before every claim; the state machine's conditions guard races.
    version = NumberAttribute(attr_name="Version", default=1)
    expires_at = TTLAttribute(attr_name="ExpiresAt")
    # An item job (absent on a plain job): its items are split into chunks
    # stored next to it; the counters move with each chunk's own transition.
    items_total = NumberAttribute(attr_name="ItemsTotal", null=True)
    items_succeeded = NumberAttribute(attr_name="ItemsSucceeded", null=True)
    items_failed = NumberAttribute(attr_name="ItemsFailed", null=True)
    items_skipped = NumberAttribute(attr_name="ItemsSkipped", null=True)
    chunks_total = NumberAttribute(attr_name="ChunksTotal", null=True)
    chunks_done = NumberAttribute(attr_name="ChunksDone", null=True)
    chunk_size = NumberAttribute(attr_name="ChunkSize", null=True)
    max_failed_ratio = NumberAttribute(attr_name="MaxFailedRatio", null=True)
    # Where a file's items live (S3 key), when they came from an upload.
    items_object = UnicodeAttribute(attr_name="ItemsObject", null=True)
    # When the job is due (epoch seconds; delayed and scheduled jobs only), and
    # DueShard = DUE_SHARD while it waits SCHEDULED (removed on release).
    due_at = NumberAttribute(attr_name="DueAt", null=True)
    due_shard = UnicodeAttribute(attr_name="DueShard", null=True)
    # The recurring schedule that fired this job, if any.
    schedule_id = UnicodeAttribute(attr_name="ScheduleId", null=True)
    # Flow control: its priority queue; the key its type's key limits count it under
    # (absent: its owner); while QUEUED and held by a pause or a limit, why and since
    # when; the limiters whose slot its running claim holds (released at its end).
    priority = UnicodeAttribute(attr_name="Priority", null=True)
    concurrency_key = UnicodeAttribute(attr_name="ConcurrencyKey", null=True)
    waiting_for = UnicodeAttribute(attr_name="WaitingFor", null=True)
    waiting_since = UTCDateTimeAttribute(attr_name="WaitingSince", null=True)
    limiters = ListAttribute(of=UnicodeAttribute, attr_name="Limiters", null=True)
    # The id of its running claim's lease string on those limiters (`<job id> <slot>`).
    slot = UnicodeAttribute(attr_name="Slot", null=True)
    # Webhooks (absent on a job nobody listens to): the events its owner's endpoints
    # and its own callback want, fixed at submission; the callback {"Url", "Events"};
    # the outbox of events recorded by a transition's own write, {event id: {"Type",
    # "At"}}, emptied as each is handed to delivery; OutboxShard/OutboxAt while it
    # holds one (recovery finds a lost hand-over by them); the last job.progress event.
    hook_events = ListAttribute(of=UnicodeAttribute, attr_name="HookEvents", null=True)
    webhook = MapAttribute(attr_name="Webhook", null=True)
    outbox = MapAttribute(attr_name="Outbox", null=True)
    outbox_shard = UnicodeAttribute(attr_name="OutboxShard", null=True)
    outbox_at = NumberAttribute(attr_name="OutboxAt", null=True)
    hook_progress_at = NumberAttribute(attr_name="HookProgressAt", null=True)
    # How often recovery published it again while it waited QUEUED (each time waits twice as long).
    republished = NumberAttribute(attr_name="Republished", null=True)
    # The dead letter recovery already acted on (a retried job is not failed again by the same one).
    dead_letter_id = UnicodeAttribute(attr_name="DeadLetterId", null=True)

    # A workflow's step (absent on other jobs; jobs.services.workflows): its workflow, its
    # name and number there, what it does when a parent fails, how many parents have not
    # ended yet, whether a parent (or one above) failed or was canceled, and whether the
    # workflow's cancel reached it. While its end has not been told to all its children:
    # the next one to tell (NotifyFrom) and NotifyShard/NotifyAt (the sparse NotifyIndex).
    workflow_id = UnicodeAttribute(attr_name="WorkflowId", null=True)
    step_name = UnicodeAttribute(attr_name="StepName", null=True)
    step_index = NumberAttribute(attr_name="StepIndex", null=True)
    on_parent_failure = UnicodeAttribute(attr_name="OnParentFailure", null=True)
    pending_parents = NumberAttribute(attr_name="PendingParents", null=True)
    upstream_failed = BooleanAttribute(attr_name="UpstreamFailed", null=True)
    upstream_canceled = BooleanAttribute(attr_name="UpstreamCanceled", null=True)
    notify_from = NumberAttribute(attr_name="NotifyFrom", null=True)
    notify_shard = UnicodeAttribute(attr_name="NotifyShard", null=True)
    notify_at = NumberAttribute(attr_name="NotifyAt", null=True)

    owner_index = OwnerIndex()
    status_index = StatusIndex()
    all_index = AllIndex()
    due_index = DueIndex()
    outbox_index = OutboxIndex()
    notify_index = NotifyIndex()
    waiting_index = WaitingIndex()


class Chunk(Model):
    """A chunk of an item job: up to chunk_size items, in the job's partition (SK = CHUNK#n)."""

    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_TABLE_NAME

    job_id = UnicodeAttribute(hash_key=True, attr_name="JobId")
    sk = UnicodeAttribute(range_key=True, attr_name="SK")
    number = NumberAttribute(attr_name="ChunkNumber")
    chunk_status = UnicodeAttribute(attr_name="ChunkStatus")
    # Line number (1-based, in the input) of the chunk's first item.
    first_line = NumberAttribute(attr_name="FirstLine")
    item_count = NumberAttribute(attr_name="ItemCount")
    # The items themselves (inline submissions), or a byte range of the job's
    # items object in S3 (file uploads): [offset, length].
    items = JSONAttribute(attr_name="Items", null=True)
    items_range = ListAttribute(attr_name="ItemsRange", null=True)
    # One entry per item, in order: {"r": result} | {"e": {code, message}} | {"s": reason}
    # | null (not run). Kept here when small, else in S3 (OutcomesObject).
    outcomes = JSONAttribute(attr_name="Outcomes", null=True)
    outcomes_object = UnicodeAttribute(attr_name="OutcomesObject", null=True)
    succeeded = NumberAttribute(attr_name="Succeeded", default=0)
    failed = NumberAttribute(attr_name="Failed", default=0)
    skipped = NumberAttribute(attr_name="Skipped", default=0)
    attempts = NumberAttribute(attr_name="Attempts", default=0)
    # Absent on chunks written before the cap: then BATCHLAB_MAX_ATTEMPTS.
    max_attempts = NumberAttribute(attr_name="MaxAttempts", null=True)
    # Bytes of the inline items as JSON (absent for a file's chunk): what is left of the item for outcomes.
    items_bytes = NumberAttribute(attr_name="ItemsBytes", null=True)
    available_at = NumberAttribute(attr_name="AvailableAt", default=0)
    republished = NumberAttribute(attr_name="Republished", null=True)
    dead_letter_id = UnicodeAttribute(attr_name="DeadLetterId", null=True)
    # Set by a retry of the job: the next run of this chunk runs its failed items again (once).
    rerun_failed = BooleanAttribute(attr_name="RerunFailed", null=True)
    lease_owner = UnicodeAttribute(attr_name="LeaseOwner", null=True)
    claim_token = UnicodeAttribute(attr_name="ClaimToken", null=True)
    lease_expires_at = NumberAttribute(attr_name="LeaseExpiresAt", null=True)
    started_at = UTCDateTimeAttribute(attr_name="StartedAt", null=True)
    finished_at = UTCDateTimeAttribute(attr_name="FinishedAt", null=True)
    expires_at = TTLAttribute(attr_name="ExpiresAt")
    # Flow control, as on a job: the limiters its running claim holds a slot on, the
    # slot's id, and why it waits while PENDING.
    limiters = ListAttribute(of=UnicodeAttribute, attr_name="Limiters", null=True)
    slot = UnicodeAttribute(attr_name="Slot", null=True)
    waiting_for = UnicodeAttribute(attr_name="WaitingFor", null=True)
    # While it waits, the WaitingForCreatedAt index's other key and projection, so that the metrics count waiting
    # chunks by type as they count jobs: its job's type, and when it began to wait. Removed with WaitingFor.
    waiting_type = UnicodeAttribute(attr_name="Type", null=True)
    waiting_since = UTCDateTimeAttribute(attr_name="CreatedAt", null=True)


class IdempotencyRecord(Model):
    """An Idempotency-Key seen from one submitter, with the job it created."""

    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_IDEMPOTENCY_TABLE_NAME

    key = UnicodeAttribute(hash_key=True, attr_name="Key")
    body_hash = UnicodeAttribute(attr_name="BodyHash")
    job_id = UnicodeAttribute(attr_name="JobId")
    created_at = UTCDateTimeAttribute(attr_name="CreatedAt")
    expires_at = TTLAttribute(attr_name="ExpiresAt")
