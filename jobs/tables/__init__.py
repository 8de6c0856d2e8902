"""PynamoDB schema only: jobs and their chunks, idempotency keys (jobs.py); workers (workers.py); schedules and their log (schedules.py); flow control (flow.py); webhooks (webhooks.py); workflows (workflows.py)."""

from jobs.tables.jobs import (
    ALL_SHARD,
    CHUNK_SK_PREFIX,
    DUE_SHARD,
    JOB_SK,
    OUTBOX_SHARD,
    NOTIFY_SHARD,
    Chunk,
    IdempotencyRecord,
    Job,
    TimelineEntry,
    chunk_sk,
)
from jobs.tables.workers import WorkerRecord
from jobs.tables.flow import EDITS_PREFIX, LIMITER_SK, SETTINGS_PK, WAITER_PREFIX, Limiter, TypeSettings, TypeSettingsEdit, Waiter
from jobs.tables.schedules import (
    ACTIVE_SHARD,
    EDIT_PREFIX,
    PENDING_SHARD,
    RUN_PREFIX,
    Schedule,
    ScheduleLogEntry,
    ScheduleRun,
)
from jobs.tables.workflows import GRAPH_SK, PLAN_SHARD, WORKFLOW_SK, Workflow, WorkflowGraph

from jobs.tables.webhooks import DeliveryAttempt, SigningSecret, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ACTIVE_SHARD", "ALL_SHARD", "CHUNK_SK_PREFIX", "DUE_SHARD", "EDIT_PREFIX", "JOB_SK", "OUTBOX_SHARD", "PENDING_SHARD", "RUN_PREFIX",
    "Chunk", "IdempotencyRecord", "Job", "Schedule", "ScheduleLogEntry", "ScheduleRun", "TimelineEntry", "WorkerRecord",
    "chunk_sk", "EDITS_PREFIX", "LIMITER_SK", "SETTINGS_PK", "WAITER_PREFIX", "Limiter", "TypeSettings", "TypeSettingsEdit", "Waiter",
    "DeliveryAttempt", "SigningSecret", "WebhookDelivery", "WebhookEndpoint",
    "GRAPH_SK", "NOTIFY_SHARD", "PLAN_SHARD", "WORKFLOW_SK", "Workflow", "WorkflowGraph",
]
