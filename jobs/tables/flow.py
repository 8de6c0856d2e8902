"""PynamoDB models of flow control: each job type's settings and edits (`batchlab-job-types`), the limiters (`batchlab-limits`): schema only."""

from django.conf import settings
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from jobs.tables.jobs import _TableMeta

# Every type's settings item sits in one partition, so that one Query reads them all.
SETTINGS_PK = "TYPES"
EDITS_PREFIX = "EDITS#"  # + the type: that type's edits, oldest first
LIMITER_SK = "STATE"
WAITER_PREFIX = "W#"  # + epoch ms + job id: a job waiting on this limiter, oldest first


class TypeSettings(Model):
    """A job type's flow-control settings as staff last saved them (absent: the type's declared defaults)."""

    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_JOB_TYPES_TABLE_NAME

    pk = UnicodeAttribute(hash_key=True, attr_name="PK", default=SETTINGS_PK)
    type = UnicodeAttribute(range_key=True, attr_name="SK")
    paused = BooleanAttribute(attr_name="Paused", default=False)
    priority = UnicodeAttribute(attr_name="Priority", default="normal")
    concurrency_limit = NumberAttribute(attr_name="ConcurrencyLimit", null=True)
    rate_limit = UnicodeAttribute(attr_name="RateLimit", null=True)
    key_concurrency_limit = NumberAttribute(attr_name="KeyConcurrencyLimit", null=True)
    key_rate_limit = UnicodeAttribute(attr_name="KeyRateLimit", null=True)
    updated_at = UTCDateTimeAttribute(attr_name="UpdatedAt")
    updated_by = UnicodeAttribute(attr_name="UpdatedBy")
    version = NumberAttribute(attr_name="Version", default=1)


class TypeSettingsEdit(Model):
    """One edit of a type's settings (PK `EDITS#<type>`, SK `<ISO time>#…`): who, what (`{field: [old, new]}`), when."""

    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_JOB_TYPES_TABLE_NAME

    pk = UnicodeAttribute(hash_key=True, attr_name="PK")
    sk = UnicodeAttribute(range_key=True, attr_name="SK")
    at = UTCDateTimeAttribute(attr_name="At")
    actor = UnicodeAttribute(attr_name="Actor")
    action = UnicodeAttribute(attr_name="Action")
    changes = JSONAttribute(attr_name="Changes")


class Limiter(Model):
    """A limiter: a type's (Scope `type#<type>`) or one key's (`key#<type>#<key>`), SK `STATE`.

    `Leases` holds one string per running job or chunk, `<job id> <token> <claimed at>`:
    the claim adds it in the transaction that claims, on condition that fewer than the
    limit are there; the end of the run deletes it. `Tat` is the rate's next start
    (GCRA), `Booked` the next turn handed to a waiting job. Waiting jobs are items of
    their own in the same partition (SK `W#…`, the Waiter model).
    """

    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_LIMITS_TABLE_NAME

    scope = UnicodeAttribute(hash_key=True, attr_name="Scope")
    sk = UnicodeAttribute(range_key=True, attr_name="SK", default=LIMITER_SK)
    leases = UnicodeSetAttribute(attr_name="Leases", null=True)
    tat = NumberAttribute(attr_name="Tat", null=True)
    booked = NumberAttribute(attr_name="Booked", null=True)
    expires_at = TTLAttribute(attr_name="ExpiresAt", null=True)


class Waiter(Model):
    """A job waiting on a limiter (or on its paused type), so that a release or a resume can wake it."""

    class Meta(_TableMeta):
        table_name = settings.BATCHLAB_LIMITS_TABLE_NAME

    scope = UnicodeAttribute(hash_key=True, attr_name="Scope")
    sk = UnicodeAttribute(range_key=True, attr_name="SK")
    job_id = UnicodeAttribute(attr_name="JobId")
    chunk = NumberAttribute(attr_name="Chunk", null=True)
    priority = UnicodeAttribute(attr_name="Priority", default="normal")
    reason = UnicodeAttribute(attr_name="Reason")
    # The flow hints of its message (type, key, waits so far): what a wake sends again.
    flow = JSONAttribute(attr_name="Flow", null=True)
    expires_at = TTLAttribute(attr_name="ExpiresAt", null=True)
