"""DynamoDB's own answers under contention, made up by the fault proxy for a request it does not forward.

Real DynamoDB cancels a TransactWriteItems that meets a concurrent transaction on
one of its items, and throttles a key that takes more than its partition's share;
moto does neither (and the embedded one applies one request at a time). The shapes
are the ones DynamoDB sends, as botocore's service model and the TransactWriteItems
API reference document them:

- a transaction: HTTP 400 ``TransactionCanceledException`` with one
  ``CancellationReasons`` entry per action, in request order: ``{"Code": "None"}``
  (no ``Message``) for an action that was not the cause, ``{"Code":
  "TransactionConflict", "Message": "Transaction is ongoing for the item"}`` or
  ``{"Code": "ThrottlingError", ...}`` for the one that was;
- a single-item write in conflict: HTTP 400 ``TransactionConflictException``;
- a single-item request on a throttled key: HTTP 400 ``ThrottlingException`` with
  ``throttlingReasons`` (``TableWriteKeyRangeThroughputExceeded``: a hot key).

`request_actions` reads which items a request touches (table and key attributes),
so that a rule can target one key, e.g. the job item every chunk finish updates.
"""

import json
from dataclasses import dataclass

PREFIX = "com.amazonaws.dynamodb.v20120810#"
CONFLICT = ("TransactionConflict", "Transaction is ongoing for the item")
THROTTLED = ("ThrottlingError",
             "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling "
             "your table or index so please try again shortly. If exceptions persist, check if you have a hot key: "
             "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html.")
SINGLE_CONFLICT = "Operation was rejected because there is an ongoing transaction for the item."
TRANSACTIONS = ("TransactWriteItems", "TransactGetItems")
READS = ("GetItem", "TransactGetItems", "Query", "Scan", "BatchGetItem")


@dataclass(frozen=True)
class Action:
    """One item a request touches: the action (Put, Update, ... or the operation), its table and its scalar attributes."""

    kind: str
    table: str
    key: tuple  # sorted (attribute name, value as sent) pairs of the Key (or a Put's Item)

    def touches(self, key: dict) -> bool:
        """Whether this item's attributes include every (name, value) of `key` (a partial key)."""
        mine = dict(self.key)
        return all(mine.get(name) == str(value) for name, value in key.items())


def _scalars(attributes: dict) -> tuple:
    out = []
    for name, value in attributes.items():
        if isinstance(value, dict) and len(value) == 1:
            (type_, scalar), = value.items()
            if type_ in ("S", "N", "B") and isinstance(scalar, str):
                out.append((name, scalar))
    return tuple(sorted(out))


def request_actions(op: str, body: bytes) -> list[Action]:
    """The items a DynamoDB request touches, in request order; [] for a Query, a Scan, a batch or a body not JSON."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return []
    if not isinstance(request, dict):
        return []
    if op in TRANSACTIONS:
        actions = []
        for entry in request.get("TransactItems", []):
            for kind, spec in entry.items():
                actions.append(Action(kind, spec.get("TableName", ""), _scalars(spec.get("Key") or spec.get("Item") or {})))
        return actions
    key = request.get("Key") or request.get("Item")
    if not isinstance(key, dict):
        return []
    return [Action(op, request.get("TableName", ""), _scalars(key))]


def _canceled(actions: list[Action], hot: set[int], reason: tuple[str, str]) -> bytes:
    reasons = [{"Code": reason[0], "Message": reason[1]} if i in hot else {"Code": "None"} for i in range(len(actions))]
    codes = ", ".join(r["Code"] for r in reasons)
    return json.dumps({
        "__type": PREFIX + "TransactionCanceledException",
        "CancellationReasons": reasons,
        "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
    }).encode()


def conflict_answer(op: str, actions: list[Action], hot: set[int]) -> bytes:
    """The body of DynamoDB's answer when the actions at `hot` meet a concurrent transaction (HTTP 400)."""
    if op in TRANSACTIONS:
        return _canceled(actions, hot, CONFLICT)
    return json.dumps({"__type": PREFIX + "TransactionConflictException", "message": SINGLE_CONFLICT}).encode()


def throttle_answer(op: str, actions: list[Action], hot: set[int]) -> bytes:
    """The body of DynamoDB's answer when the keys at `hot` are throttled (an on-demand table's hot key; HTTP 400)."""
    if op in TRANSACTIONS:
        return _canceled(actions, hot, THROTTLED)
    table = actions[0].table if actions else ""
    access = "Read" if op in READS else "Write"
    return json.dumps({
        "__type": PREFIX + "ThrottlingException",
        "message": THROTTLED[1],
        "throttlingReasons": [{"reason": f"Table{access}KeyRangeThroughputExceeded",
                               "resource": f"arn:aws:dynamodb:us-east-1:000000000000:table/{table}"}],
    }).encode()
