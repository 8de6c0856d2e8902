"""PynamoDB schema of the workers table: one item per worker process, written by its own heartbeat."""

from django.conf import settings
from pynamodb.attributes import ListAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from jobs.tables.jobs import _TableMeta


class WorkerRecord(Model):
    """One worker process as its own heartbeat last wrote it; expires (TTL) once the worker stops beating."""

    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_WORKERS_TABLE_NAME

    worker_id = UnicodeAttribute(hash_key=True, attr_name="WorkerId")
    name = UnicodeAttribute(attr_name="Name")
    host = UnicodeAttribute(attr_name="Host")
    pid = NumberAttribute(attr_name="Pid")
    version = UnicodeAttribute(attr_name="Version")
    concurrency = NumberAttribute(attr_name="Concurrency")
    started_at = UTCDateTimeAttribute(attr_name="StartedAt")
    last_seen_at = UTCDateTimeAttribute(attr_name="LastSeenAt")
    heartbeat_seconds = NumberAttribute(attr_name="HeartbeatSeconds")
    # Ids of the jobs its processes run right now.
    running = ListAttribute(of=UnicodeAttribute, attr_name="Running", default=list)
    jobs_done = NumberAttribute(attr_name="JobsDone", default=0)
    last_job_at = UTCDateTimeAttribute(attr_name="LastJobAt", null=True)
    last_receive_at = UTCDateTimeAttribute(attr_name="LastReceiveAt", null=True)
    receive_failures = NumberAttribute(attr_name="ReceiveFailures", default=0)
    expires_at = TTLAttribute(attr_name="ExpiresAt")
