"""`batchlab_bootstrap` on an existing deployment: missing indexes are added, nothing is deleted (moto in-process)."""

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from jobs import services, store_admin
from jobs.exceptions import StoreUnavailable
from jobs.store_indexes import model_index_specs
from jobs.tables import DUE_SHARD, Job
from jobs.tables.schedules import Schedule


def client():
    return boto3.client("dynamodb", region_name=settings.AWS_REGION, endpoint_url=settings.AWS_ENDPOINT_URL_DYNAMODB)


def index_names(model) -> set[str]:
    return {i["IndexName"] for i in client().describe_table(TableName=model.Meta.table_name)["Table"].get("GlobalSecondaryIndexes", [])}


def recreate(model, *, without: set[str] = frozenset(), extra: list[dict] | None = None) -> None:
    """Replace `model`'s table by one an older version would have made: its schema minus `without`, plus `extra`."""
    schema = model._get_schema()
    gsis = [
        {"IndexName": s["index_name"], "KeySchema": s["key_schema"], "Projection": s["projection"]}
        for s in schema["global_secondary_indexes"] if s["index_name"] not in without
    ] + (extra or [])
    used = {k["AttributeName"] for g in gsis for k in g["KeySchema"]} | {k["AttributeName"] for k in schema["key_schema"]}
    dynamodb = client()
    dynamodb.delete_table(TableName=model.Meta.table_name)
    dynamodb.create_table(
        TableName=model.Meta.table_name, BillingMode="PAY_PER_REQUEST", KeySchema=schema["key_schema"],
        AttributeDefinitions=[d for d in [*schema["attribute_definitions"], {"AttributeName": "Legacy", "AttributeType": "S"}]
                              if d["AttributeName"] in used],
        **({"GlobalSecondaryIndexes": gsis} if gsis else {}),
    )
    assert index_names(model) == {g["IndexName"] for g in gsis}


@pytest.fixture
def update_calls(monkeypatch):
    """Every UpdateTable request bootstrap sends."""
    calls = []
    real = store_admin._dynamodb

    def recording():
        dynamodb = real()
        dynamodb.meta.events.register("before-parameter-build.dynamodb.UpdateTable", lambda params, **_: calls.append(dict(params)))
        return dynamodb

    monkeypatch.setattr(store_admin, "_dynamodb", recording)
    return calls


def test_bootstrap_adds_the_missing_due_index_and_delayed_jobs_are_released_through_it(aws, published, update_calls):
    recreate(Job, without={"DueShardDueAt"})
    run_at = datetime.now(timezone.utc) + timedelta(minutes=20)
    job, _ = services.job_submit(owner="alice", name="later", type="echo", payload={}, run_at=run_at)
    with pytest.raises(StoreUnavailable):  # the old table: the scheduler's query fails (ResourceNotFoundException)
        services.jobs_release_due(now=run_at.timestamp() + 1)

    lines = store_admin.bootstrap_all(index_wait_seconds=5, poll_seconds=0.1)

    assert f"table {Job.Meta.table_name}: exists, index DueShardDueAt added (ACTIVE), TTL on ExpiresAt enabled" in lines
    assert index_names(Job) == set(model_index_specs(model=Job))
    [call] = update_calls
    assert [u["Create"]["IndexName"] for u in call["GlobalSecondaryIndexUpdates"]] == ["DueShardDueAt"]
    assert "ProvisionedThroughput" not in call["GlobalSecondaryIndexUpdates"][0]["Create"]  # on-demand table
    assert {"DueShard", "DueAt", "JobId", "SK"} <= {d["AttributeName"] for d in call["AttributeDefinitions"]}
    assert [j.job_id for j in Job.due_index.query(DUE_SHARD)] == [job.job_id]  # the job stored before the index
    assert services.jobs_release_due(now=run_at.timestamp() + 1) == [job.job_id]


def test_a_second_bootstrap_changes_nothing(aws, update_calls):
    recreate(Schedule, without={"ActiveNextRunAt", "PendingSince"})
    first = store_admin.bootstrap_all(index_wait_seconds=5, poll_seconds=0.1)
    assert (f"table {Schedule.Meta.table_name}: exists, index ActiveNextRunAt added (ACTIVE), "
            "index PendingSince added (ACTIVE), TTL on ExpiresAt enabled") in first
    assert [[u["Create"]["IndexName"] for u in c["GlobalSecondaryIndexUpdates"]] for c in update_calls] == [
        ["ActiveNextRunAt"], ["PendingSince"]]  # one index per UpdateTable
    assert index_names(Schedule) == set(model_index_specs(model=Schedule))

    second = store_admin.bootstrap_all(index_wait_seconds=5, poll_seconds=0.1)
    assert len(update_calls) == 2
    tables = [line for line in second if line.startswith("table ")]
    assert len(tables) == len(store_admin.MODELS) == 10 and all(line.endswith(": exists, TTL on ExpiresAt unchanged") for line in tables), tables


def test_an_index_the_model_does_not_have_or_has_otherwise_is_reported_and_left_alone(aws, update_calls):
    legacy = {"IndexName": "LegacyIndex", "KeySchema": [{"AttributeName": "Legacy", "KeyType": "HASH"}],
              "Projection": {"ProjectionType": "KEYS_ONLY"}}
    changed = {"IndexName": "DueShardDueAt", "KeySchema": [{"AttributeName": "Legacy", "KeyType": "HASH"}],
               "Projection": {"ProjectionType": "KEYS_ONLY"}}
    recreate(Job, without={"DueShardDueAt"}, extra=[legacy, changed])
    lines = store_admin.bootstrap_all(index_wait_seconds=5, poll_seconds=0.1)
    assert (f"table {Job.Meta.table_name}: exists, index DueShardDueAt differs from the model (left alone), "
            "index LegacyIndex not in the model (left alone), TTL on ExpiresAt enabled") in lines
    assert update_calls == [] and index_names(Job) == set(model_index_specs(model=Job)) | {"LegacyIndex"}


class StillBackfilling:
    """A DynamoDB client as real AWS answers during a long backfill: every index created by this client stays CREATING."""

    def __init__(self, real):
        self.real, self.created = real, set()

    def __getattr__(self, name):
        return getattr(self.real, name)

    def update_table(self, **params):
        self.created |= {u["Create"]["IndexName"] for u in params["GlobalSecondaryIndexUpdates"]}
        return self.real.update_table(**params)

    def describe_table(self, **params):
        answer = self.real.describe_table(**params)
        for index in answer["Table"].get("GlobalSecondaryIndexes", []):
            if index["IndexName"] in self.created:
                index.update(IndexStatus="CREATING", Backfilling=True)
        return answer


def test_an_index_still_backfilling_when_the_wait_runs_out_is_reported_and_the_command_fails(aws, monkeypatch, capsys):
    recreate(Job, without={"DueShardDueAt"})
    real = store_admin._dynamodb
    monkeypatch.setattr(store_admin, "_dynamodb", lambda: StillBackfilling(real()))
    with pytest.raises(CommandError, match=f"not ACTIVE yet: {Job.Meta.table_name}/DueShardDueAt"):
        call_command("batchlab_bootstrap", "--index-wait", "0.3", "--poll", "0.1")
    out = capsys.readouterr().out
    assert (f"table {Job.Meta.table_name}: exists, index DueShardDueAt added, still backfilling after 0.3s (CREATING): "
            "queries on it fail until it is ACTIVE; run batchlab_bootstrap again to wait for it, TTL on ExpiresAt enabled") in out
    assert "DueShardDueAt" in index_names(Job)  # created once; the next run waits for it instead of creating it again
