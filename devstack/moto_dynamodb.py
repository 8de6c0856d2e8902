"""moto's TransactWriteItems without its copy of every table: a transaction backs up the items it touches, not the tables.

moto 5 deep-copies each table a transaction names, once per operation, before it
applies any (to restore them if one condition fails): a transaction's cost grew
with the whole table and with its number of operations (a 90-operation
transaction on a table of a few thousand jobs took seconds, and the embedded
DynamoDB serves one request at a time). Here the items the operations name are
copied instead, and restored if the transaction is canceled: the same outcome
(the embedded server applies one request at a time: nothing else writes meanwhile).
`install()` is idempotent.
"""

import copy

from moto.dynamodb import models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_original = models.DynamoDBBackend.transact_write_items


class _TablesAsThey:
    """Stands in for the `copy` module inside moto.dynamodb.models: a Table is "copied" as itself."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _key(table: Table, attrs: dict) -> tuple:
    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _restore(table: Table, hash_value, range_value, item) -> None:
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
    elif item is None:
        table.items.get(hash_value, {}).pop(range_value, None)
    else:
        table.items[hash_value][range_value] = item


def _transact_write_items(self, transact_items):
    saved = []
    for entry in transact_items[:100]:
        try:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            hash_value, range_value = _key(table, op["Item"] if op_type == "Put" else op["Key"])
            saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        except Exception:  # a malformed operation: moto's own checks answer it below
            continue
    try:
        return _original(self, transact_items)
    except Exception:
        for table, hash_value, range_value, item in reversed(saved):
            _restore(table, hash_value, range_value, item)
        raise


def install() -> None:
    models.copy = _TablesAsThey
    models.DynamoDBBackend.transact_write_items = _transact_write_items
