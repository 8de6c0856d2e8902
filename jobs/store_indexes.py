"""Bring an existing table's global secondary indexes up to its PynamoDB model: add the missing ones, delete nothing."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.models import Model

ACTIVE = "ACTIVE"


@dataclass
class IndexUpgrade:
    """What happened to one table's indexes: a phrase per index touched, and the ones not queryable yet."""

    phrases: list[str] = field(default_factory=list)
    not_active: list[str] = field(default_factory=list)  # "table/index": added or found CREATING, not ACTIVE yet
    failed: list[str] = field(default_factory=list)  # "table/index": UpdateTable refused


def model_index_specs(*, model: type[Model]) -> dict[str, dict[str, Any]]:
    """{index name: PynamoDB's schema of that GSI}, exactly what `Model.create_table` would send.

    Read from PynamoDB's own `_get_schema()` (private, but it is the one place that turns
    the model's index classes into DynamoDB's shapes), so no schema is written twice.
    """
    return {spec["index_name"]: spec for spec in model._get_schema()["global_secondary_indexes"]}


def _key_schema(spec: dict[str, Any]) -> list[dict[str, str]]:
    # HASH before RANGE, as PynamoDB's create_table sends it.
    return sorted(({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in spec["key_schema"]),
                  key=lambda k: k["KeyType"])


def _create_action(*, spec: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    """The UpdateTable `Create` for one index, in the table's billing mode."""
    action: dict[str, Any] = {"IndexName": spec["index_name"], "KeySchema": _key_schema(spec), "Projection": spec["projection"]}
    if table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED") == "PROVISIONED":
        # The index's own capacity from its Meta if it has one, else the table's.
        table_capacity = table.get("ProvisionedThroughput", {})
        own = spec.get("provisioned_throughput") or {}
        action["ProvisionedThroughput"] = {
            unit: own.get(unit) or table_capacity.get(unit) or 1 for unit in ("ReadCapacityUnits", "WriteCapacityUnits")
        }
    return action


def _attribute_definitions(*, spec: dict[str, Any], table: dict[str, Any]) -> list[dict[str, str]]:
    """The table's attribute definitions plus the new index's key attributes (DynamoDB wants them declared)."""
    merged = {d["AttributeName"]: d for d in table.get("AttributeDefinitions", [])}
    for definition in spec["attribute_definitions"]:
        merged.setdefault(definition["AttributeName"], {"AttributeName": definition["AttributeName"],
                                                        "AttributeType": definition["AttributeType"]})
    return list(merged.values())


def _differs(*, spec: dict[str, Any], existing: dict[str, Any]) -> bool:
    same_keys = _key_schema(spec) == sorted(existing.get("KeySchema", []), key=lambda k: k["KeyType"])
    same_projection = spec["projection"].get("ProjectionType") == existing.get("Projection", {}).get("ProjectionType")
    return not (same_keys and same_projection)


def _wait_for(*, status: Callable[[], str | None], wait_seconds: float, poll_seconds: float) -> str | None:
    """Poll `status()` until it is ACTIVE or `wait_seconds` ran out; returns the last status seen."""
    deadline = time.monotonic() + wait_seconds
    while True:
        current = status()
        remaining = deadline - time.monotonic()
        if current == ACTIVE or remaining <= 0:
            return current
        time.sleep(min(poll_seconds, remaining))


def table_indexes_upgrade(*, model: type[Model], client: Any, wait_seconds: float, poll_seconds: float = 5.0) -> IndexUpgrade:
    """Create each GSI of `model` that its existing table lacks, one UpdateTable per index, and wait for it.

    Invariants: never deletes or changes an index (one the model no longer has, or one that
    differs from the model, is reported and left alone); waits at most `wait_seconds` for the
    table to accept each UpdateTable and again for each new index to become ACTIVE (on real
    AWS the backfill of a large table takes minutes): an index still CREATING is reported
    as backfilling, and a later run waits for it again instead of creating it twice.
    """
    name = model.Meta.table_name
    result = IndexUpgrade()

    def describe() -> dict[str, Any]:
        return client.describe_table(TableName=name)["Table"]

    def index_status(index_name: str) -> str | None:
        found = {i["IndexName"]: i for i in describe().get("GlobalSecondaryIndexes", [])}.get(index_name)
        return found.get("IndexStatus") if found else None

    def waited(index_name: str, verb: str) -> str:
        status = _wait_for(status=lambda: index_status(index_name), wait_seconds=wait_seconds, poll_seconds=poll_seconds)
        if status == ACTIVE:
            return f"index {index_name} {verb} (ACTIVE)"
        result.not_active.append(f"{name}/{index_name}")
        return (f"index {index_name} {verb}, still backfilling after {wait_seconds:g}s ({status}): "
                f"queries on it fail until it is ACTIVE; run batchlab_bootstrap again to wait for it")

    specs = model_index_specs(model=model)
    table = describe()
    existing = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    for index_name, spec in specs.items():
        if index_name in existing:
            if _differs(spec=spec, existing=existing[index_name]):
                result.phrases.append(f"index {index_name} differs from the model (left alone)")
            elif existing[index_name].get("IndexStatus") == "CREATING":
                result.phrases.append(waited(index_name, "was being created"))
            continue
        # DynamoDB takes one index creation per UpdateTable, and none while the table is UPDATING.
        table_status = _wait_for(status=lambda: describe().get("TableStatus"), wait_seconds=wait_seconds,
                                 poll_seconds=poll_seconds)
        if table_status != ACTIVE:
            result.not_active.append(f"{name}/{index_name}")
            result.phrases.append(f"index {index_name} not added yet (table {table_status} after {wait_seconds:g}s; run again)")
            continue
        table = describe()
        try:
            client.update_table(
                TableName=name,
                AttributeDefinitions=_attribute_definitions(spec=spec, table=table),
                GlobalSecondaryIndexUpdates=[{"Create": _create_action(spec=spec, table=table)}],
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            result.failed.append(f"{name}/{index_name}")
            result.phrases.append(f"index {index_name} NOT added ({error.get('Code')}: {error.get('Message')})")
            continue
        result.phrases.append(waited(index_name, "added"))
    for index_name in existing:
        if index_name not in specs:
            result.phrases.append(f"index {index_name} not in the model (left alone)")
    return result
