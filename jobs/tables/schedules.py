"""PynamoDB models of recurring schedules (table `batchlab-schedules`) and of their runs and edits (table `batchlab-schedule-log`): schema only."""

from django.conf import settings
from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    TTLAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from jobs.tables.jobs import ALL_SHARD, _TableMeta

ACTIVE_SHARD = "ACTIVE"  # on every schedule that is not paused: the scheduler's Query
PENDING_SHARD = "PENDING"  # on a schedule with a claimed firing not yet turned into a job


class ScheduleRun(MapAttribute):
    """One due time: fired (with its job), skipped, held (queue_one) or run by hand (the schedule's last run, on it)."""

    due_at = NumberAttribute(attr_name="DueAt")
    at = UTCDateTimeAttribute(attr_name="At")
    outcome = UnicodeAttribute(attr_name="Outcome")
    job_id = UnicodeAttribute(attr_name="JobId", null=True)
    missed = NumberAttribute(attr_name="Missed", default=0)
    message = UnicodeAttribute(attr_name="Message", null=True)


class DueScheduleIndex(GlobalSecondaryIndex):
    """Active schedules by next due time (sparse: paused schedules carry no ActiveShard)."""

    class Meta:
        index_name = "ActiveNextRunAt"
        projection = AllProjection()

    active_shard = UnicodeAttribute(hash_key=True, attr_name="ActiveShard")
    next_run_at = NumberAttribute(range_key=True, attr_name="NextRunAt")


class PendingScheduleIndex(GlobalSecondaryIndex):
    """Schedules with a claimed firing whose job is not recorded yet (sparse)."""

    class Meta:
        index_name = "PendingSince"
        projection = AllProjection()

    pending_shard = UnicodeAttribute(hash_key=True, attr_name="PendingShard")
    pending_since = NumberAttribute(range_key=True, attr_name="PendingSince")


class ScheduleOwnerIndex(GlobalSecondaryIndex):
    """A user's schedules, newest first."""

    class Meta:
        index_name = "OwnerCreatedAt"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True, attr_name="Owner")
    created_at = UTCDateTimeAttribute(range_key=True, attr_name="CreatedAt")


class ScheduleAllIndex(GlobalSecondaryIndex):
    """Every schedule, newest first (staff pages, metrics)."""

    class Meta:
        index_name = "AllCreatedAt"
        projection = AllProjection()

    list_shard = UnicodeAttribute(hash_key=True, attr_name="ListShard")
    created_at = UTCDateTimeAttribute(range_key=True, attr_name="CreatedAt")


class Schedule(Model):
    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_SCHEDULES_TABLE_NAME

    schedule_id = UnicodeAttribute(hash_key=True, attr_name="ScheduleId")
    name = UnicodeAttribute(attr_name="Name")
    owner = UnicodeAttribute(attr_name="Owner")
    type = UnicodeAttribute(attr_name="Type")
    payload = JSONAttribute(attr_name="Payload")
    # A schedule of an item type: its items live in S3 (NDJSON plus a chunk index,
    # jobs.services.schedules.items), never in this item, which every firing rewrites.
    items_object = UnicodeAttribute(attr_name="ItemsObject", null=True)
    items_total = NumberAttribute(attr_name="ItemsTotal", null=True)
    items_invalid = NumberAttribute(attr_name="ItemsInvalid", null=True)
    chunk_size = NumberAttribute(attr_name="ChunkSize", null=True)
    max_failed_ratio = NumberAttribute(attr_name="MaxFailedRatio", null=True)
    on_invalid = UnicodeAttribute(attr_name="OnInvalid", null=True)
    # A schedule that fires a workflow (Type "(workflow)"): its definition in S3
    # (jobs.services.schedules.workflows), its name and its number of steps.
    workflow_object = UnicodeAttribute(attr_name="WorkflowObject", null=True)
    workflow_name = UnicodeAttribute(attr_name="WorkflowName", null=True)
    workflow_steps = NumberAttribute(attr_name="WorkflowSteps", null=True)
    # Exactly one of: an interval in seconds, or a cron expression read in `timezone`.
    interval_seconds = NumberAttribute(attr_name="IntervalSeconds", null=True)
    cron = UnicodeAttribute(attr_name="Cron", null=True)
    timezone = UnicodeAttribute(attr_name="Timezone", default="UTC")
    overlap = UnicodeAttribute(attr_name="Overlap", default="skip")
    # The priority of every run's job (absent: the type's default at each firing).
    priority = UnicodeAttribute(attr_name="Priority", null=True)
    paused = BooleanAttribute(attr_name="Paused", default=False)
    active_shard = UnicodeAttribute(attr_name="ActiveShard", null=True)
    list_shard = UnicodeAttribute(attr_name="ListShard", default=ALL_SHARD)
    # Epoch seconds of the next due time; the scheduler's conditional write is on it.
    next_run_at = NumberAttribute(attr_name="NextRunAt", null=True)
    # A claimed firing: its due time, job id and kind ("fire": the job is being
    # created; "held": queue_one waits for the previous run to end).
    pending_shard = UnicodeAttribute(attr_name="PendingShard", null=True)
    pending_since = NumberAttribute(attr_name="PendingSince", null=True)
    pending_due_at = NumberAttribute(attr_name="PendingDueAt", null=True)
    pending_kind = UnicodeAttribute(attr_name="PendingKind", null=True)
    # The items (S3 key) the claimed run takes, fixed at the claim: whichever scheduler
    # creates the run's job copies the same items, even if an edit replaced them since.
    pending_items = UnicodeAttribute(attr_name="PendingItems", null=True)
    pending_attempts = NumberAttribute(attr_name="PendingAttempts", null=True)
    last_due_at = NumberAttribute(attr_name="LastDueAt", null=True)
    last_job_id = UnicodeAttribute(attr_name="LastJobId", null=True)
    fired_count = NumberAttribute(attr_name="FiredCount", default=0)
    skipped_count = NumberAttribute(attr_name="SkippedCount", default=0)
    missed_count = NumberAttribute(attr_name="MissedCount", default=0)
    # The last run that made a job (fired or by hand); every run and edit is in ScheduleLogEntry,
    # so that this item, written by every firing and copied to four indexes, stays small.
    last_run = ScheduleRun(attr_name="LastRun", null=True)
    # Where schedules made before the log table kept their runs and edits: removed by their next write.
    legacy_runs = ListAttribute(attr_name="Runs", null=True)
    legacy_history = ListAttribute(attr_name="History", null=True)
    created_at = UTCDateTimeAttribute(attr_name="CreatedAt")
    updated_at = UTCDateTimeAttribute(attr_name="UpdatedAt")
    version = NumberAttribute(attr_name="Version", default=1)

    due_index = DueScheduleIndex()
    pending_index = PendingScheduleIndex()
    owner_index = ScheduleOwnerIndex()
    all_index = ScheduleAllIndex()


RUN_PREFIX = "RUN#"
EDIT_PREFIX = "EDIT#"


class ScheduleLogEntry(Model):
    """One run (SK `RUN#<epoch ms>#…`) or one edit (SK `EDIT#<ISO time>#…`) of a schedule, in the schedule's partition.

    Written in the same transaction as the schedule's conditional write (a claim,
    an edit), so that a run is recorded exactly when its due time is taken. Runs
    expire (ExpiresAt, BATCHLAB_SCHEDULE_RUNS_KEPT_DAYS); edits stay until the
    schedule is deleted.
    """

    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_SCHEDULE_LOG_TABLE_NAME

    schedule_id = UnicodeAttribute(hash_key=True, attr_name="ScheduleId")
    sk = UnicodeAttribute(range_key=True, attr_name="SK")
    at = UTCDateTimeAttribute(attr_name="At")
    # A run
    due_at = NumberAttribute(attr_name="DueAt", null=True)
    outcome = UnicodeAttribute(attr_name="Outcome", null=True)
    job_id = UnicodeAttribute(attr_name="JobId", null=True)
    missed = NumberAttribute(attr_name="Missed", null=True)
    message = UnicodeAttribute(attr_name="Message", null=True)
    # An edit
    actor = UnicodeAttribute(attr_name="Actor", null=True)
    action = UnicodeAttribute(attr_name="Action", null=True)
    changes = JSONAttribute(attr_name="Changes", null=True)
    expires_at = TTLAttribute(attr_name="ExpiresAt", null=True)
