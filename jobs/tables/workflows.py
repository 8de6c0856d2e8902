"""PynamoDB models of workflows (table `batchlab-workflows`): a workflow's header and its graph, one partition each; schema only.

The header (SK "WORKFLOW") is small and written when the workflow starts, when
each sink step ends (its counter of sinks still running), when it ends, and by a
cancel or a retry: its listing indexes project only what a listing shows, so a
sink's write does not touch them. The graph (SK "GRAPH") holds every step's name
and edges (jobs.dag), written once; the steps themselves are jobs (jobs table)
whose ids derive from the workflow's id and their number.
"""

from django.conf import settings
from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from jobs.tables.jobs import ALL_SHARD, TimelineEntry, _TableMeta

WORKFLOW_SK = "WORKFLOW"
GRAPH_SK = "GRAPH"
PLAN_SHARD = "PLAN"

# What a listing shows of a workflow (the listing indexes carry these and the keys only).
_LISTED = ["Name", "Status", "Owner", "StepsTotal", "FinishedAt", "CancelRequested", "ScheduleId", "Runs"]


class WorkflowOwnerIndex(GlobalSecondaryIndex):
    """A user's workflows, newest first (sparse: a workflow is listed once it started)."""

    class Meta:
        index_name = "OwnerCreatedAt"
        projection = IncludeProjection(_LISTED)

    owner = UnicodeAttribute(hash_key=True, attr_name="Owner")
    created_at = UTCDateTimeAttribute(range_key=True, attr_name="CreatedAt")


class WorkflowAllIndex(GlobalSecondaryIndex):
    """Every workflow, newest first (staff)."""

    class Meta:
        index_name = "AllCreatedAt"
        projection = IncludeProjection(_LISTED)

    list_shard = UnicodeAttribute(hash_key=True, attr_name="ListShard")
    created_at = UTCDateTimeAttribute(range_key=True, attr_name="CreatedAt")


class WorkflowPlanIndex(GlobalSecondaryIndex):
    """Workflows with a plan in progress (submission, start, cancel, retry): what recovery finishes (sparse)."""

    class Meta:
        index_name = "PlanShardPlanAt"
        projection = KeysOnlyProjection()

    plan_shard = UnicodeAttribute(hash_key=True, attr_name="PlanShard")
    plan_at = NumberAttribute(range_key=True, attr_name="PlanAt")


class Workflow(Model):
    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_WORKFLOWS_TABLE_NAME

    workflow_id = UnicodeAttribute(hash_key=True, attr_name="WorkflowId")
    sk = UnicodeAttribute(range_key=True, attr_name="SK", default=WORKFLOW_SK)
    name = UnicodeAttribute(attr_name="Name")
    status = UnicodeAttribute(attr_name="Status")
    # Set once it started (the listing indexes are sparse on them): the submitter, and "ALL".
    owner = UnicodeAttribute(attr_name="Owner", null=True)
    submitter = UnicodeAttribute(attr_name="Submitter")
    list_shard = UnicodeAttribute(attr_name="ListShard", null=True)
    created_at = UTCDateTimeAttribute(attr_name="CreatedAt")
    updated_at = UTCDateTimeAttribute(attr_name="UpdatedAt")
    finished_at = UTCDateTimeAttribute(attr_name="FinishedAt", null=True)
    steps_total = NumberAttribute(attr_name="StepsTotal")
    # The workflow's end counts its sinks (steps nobody needs) as a step counts its parents.
    sinks_pending = NumberAttribute(attr_name="SinksPending")
    upstream_failed = BooleanAttribute(attr_name="UpstreamFailed", null=True)
    upstream_canceled = BooleanAttribute(attr_name="UpstreamCanceled", null=True)
    cancel_requested = BooleanAttribute(attr_name="CancelRequested", null=True)
    canceled_at = UTCDateTimeAttribute(attr_name="CanceledAt", null=True)
    runs = NumberAttribute(attr_name="Runs", default=1)  # 1, and one more for each retry
    timeline = ListAttribute(of=TimelineEntry, attr_name="Timeline", default=list)
    schedule_id = UnicodeAttribute(attr_name="ScheduleId", null=True)
    expires_at = TTLAttribute(attr_name="ExpiresAt")
    # A plan in progress: what (submit, start, cancel, retry), the steps it goes through
    # in order, the next one; PlanShard/PlanAt put it on the sparse plan index.
    plan_kind = UnicodeAttribute(attr_name="PlanKind", null=True)
    plan_steps = ListAttribute(of=NumberAttribute, attr_name="PlanSteps", null=True)
    plan_from = NumberAttribute(attr_name="PlanFrom", null=True)
    plan_shard = UnicodeAttribute(attr_name="PlanShard", null=True)
    plan_at = NumberAttribute(attr_name="PlanAt", null=True)

    owner_index = WorkflowOwnerIndex()
    all_index = WorkflowAllIndex()
    plan_index = WorkflowPlanIndex()


class WorkflowGraph(Model):
    """A workflow's steps and edges (jobs.dag.Graph.dumps), written once at submission."""

    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_WORKFLOWS_TABLE_NAME

    workflow_id = UnicodeAttribute(hash_key=True, attr_name="WorkflowId")
    sk = UnicodeAttribute(range_key=True, attr_name="SK", default=GRAPH_SK)
    graph = UnicodeAttribute(attr_name="Graph")
    expires_at = TTLAttribute(attr_name="ExpiresAt")


__all__ = ["ALL_SHARD", "GRAPH_SK", "PLAN_SHARD", "WORKFLOW_SK", "Workflow", "WorkflowGraph"]
