"""The global secondary indexes of the jobs table (jobs.tables.jobs.Job): listings, due jobs, outboxes, workflow notifications, waiting jobs."""

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection


class OwnerIndex(GlobalSecondaryIndex):
    """A user's jobs, newest first."""

    class Meta:
        index_name = "OwnerCreatedAt"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True, attr_name="Owner")
    created_at = UTCDateTimeAttribute(range_key=True, attr_name="CreatedAt")


class StatusIndex(GlobalSecondaryIndex):
    """Jobs in one status, oldest first: staff filters and the recovery pass."""

    class Meta:
        index_name = "StatusCreatedAt"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True, attr_name="Status")
    created_at = UTCDateTimeAttribute(range_key=True, attr_name="CreatedAt")


class AllIndex(GlobalSecondaryIndex):
    """Every job, newest first (staff listing)."""

    class Meta:
        index_name = "AllCreatedAt"
        projection = AllProjection()

    list_shard = UnicodeAttribute(hash_key=True, attr_name="ListShard")
    created_at = UTCDateTimeAttribute(range_key=True, attr_name="CreatedAt")


class DueIndex(GlobalSecondaryIndex):
    """SCHEDULED jobs by due time (sparse: only a SCHEDULED job carries DueShard)."""

    class Meta:
        index_name = "DueShardDueAt"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True, attr_name="DueShard")
    due_at = NumberAttribute(range_key=True, attr_name="DueAt")


class OutboxIndex(GlobalSecondaryIndex):
    """Jobs with webhook events not yet handed to delivery, oldest first (sparse: OutboxShard only while the outbox holds one)."""

    class Meta:
        index_name = "OutboxShardOutboxAt"
        projection = KeysOnlyProjection()

    outbox_shard = UnicodeAttribute(hash_key=True, attr_name="OutboxShard")
    outbox_at = NumberAttribute(range_key=True, attr_name="OutboxAt")


class NotifyIndex(GlobalSecondaryIndex):
    """Workflow steps whose children are not all told of their end yet (sparse: only while NotifyShard is set)."""

    class Meta:
        index_name = "NotifyShardNotifyAt"
        projection = KeysOnlyProjection()

    notify_shard = UnicodeAttribute(hash_key=True, attr_name="NotifyShard")
    notify_at = NumberAttribute(range_key=True, attr_name="NotifyAt")


class WaitingIndex(GlobalSecondaryIndex):
    """Jobs held back by flow control, by why (sparse: WaitingFor only while a QUEUED job waits), for the metrics."""

    class Meta:
        index_name = "WaitingForCreatedAt"
        projection = IncludeProjection(["Type", "Status"])

    waiting_for = UnicodeAttribute(hash_key=True, attr_name="WaitingFor")
    created_at = UTCDateTimeAttribute(range_key=True, attr_name="CreatedAt")
