"""Counts AWS requests and billing units at the boundary of this process (botocore hooks, kombu's async SQS).

Off unless BATCHLAB_AWS_METER_DIR is set (the benchmark sets it). Every botocore
client created afterwards gets two event hooks: `before-send` counts each HTTP
attempt (a retry is a request, and billed), `after-call` reads the answer to
count DynamoDB's billing units. kombu sends ReceiveMessage (and some
DeleteMessage) through its own HTTP client, not botocore's: its
`AsyncSQSConnection.make_request` is counted too. Each process writes its
totals to `<dir>/<pid>.json` at most every FLUSH_SECONDS, and at exit; a
prefork child starts its own counts (it does not inherit its parent's).

DynamoDB bills (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
a write 1 unit per started 1 KB of the larger of the item before and after
(a refused conditional write too), twice that in a transaction; a read 1 unit
per started 4 KB, half for an eventually consistent read. The item size is
computed here from the attribute names and values as DynamoDB sizes them. The
size before an UpdateItem is the size this process last saw for that key (its
own earlier write), else the size after: BatchLab's writes only grow an item
until it is final, so this is exact for the job's path. A write that asks for
no item back (the final one) is sized as the size before plus the values it
writes: an upper bound.
"""

import atexit
import json
import math
import os
import threading
import time
from collections import Counter, OrderedDict
from decimal import Decimal
from pathlib import Path

FLUSH_SECONDS = 0.5
_KNOWN_SIZES = 10_000  # keys whose last item size is remembered (per process)


# --- Item sizes and units (pure) ---------------------------------------------------------


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").strip("0") or "0"
    return 1 + math.ceil(len(digits) / 2)


def value_size(value: dict) -> int:
    """Bytes DynamoDB counts for one attribute value in wire form ({"S": ...}, {"M": ...}, ...)."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in inner)
    if kind == "NS":
        return sum(_number_size(str(v)) for v in inner)
    if kind == "BS":
        return sum(len(v) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in inner.items())
    return 0


def item_size(item: dict | None) -> int:
    """An item's size in bytes as DynamoDB bills it: attribute names plus values."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in (item or {}).items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def read_units(size: int, *, consistent: bool) -> Decimal:
    units = Decimal(max(1, math.ceil(size / 4096)))
    return units if consistent else units / 2


# --- The meter ----------------------------------------------------------------------------


class AwsMeter:
    """Request and unit counters of one process, keyed "service.Operation"."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.pid = os.getpid()
        self.requests: Counter = Counter()
        self.write_units: Counter = Counter()
        self.read_units: Counter = Counter()
        self.refused: Counter = Counter()
        self._sizes: OrderedDict = OrderedDict()
        self._dirty = False
        self._flusher: threading.Thread | None = None

    def _check_fork(self) -> None:
        if os.getpid() != self.pid:  # a forked child: its requests are its own
            self.reset()

    # -- recording ------------------------------------------------------------

    def count_request(self, service: str, operation: str) -> None:
        with self._lock:
            self._check_fork()
            self.requests[f"{service}.{operation}"] += 1
            self._touch()

    def count_response(self, service: str, operation: str, params: dict, parsed: dict) -> None:
        """DynamoDB units of one answered call (others are billed per request only)."""
        if service != "dynamodb":
            return
        with self._lock:
            self._check_fork()
            key = f"{service}.{operation}"
            error = (parsed.get("Error") or {}).get("Code")
            if error and error not in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                return  # throttled or invalid: not billed
            if error:
                self.refused[key] += 1
            units = self._units(operation, params, parsed, refused=bool(error))
            if units:
                target = self.read_units if operation in _READS else self.write_units
                target[key] += units
            self._touch()

    def _remember(self, table: str, key: dict | None, size: int) -> int:
        """Store an item's latest size; return the size seen before (or `size`)."""
        ident = (table, json.dumps(key, sort_keys=True, default=str))
        before = self._sizes.pop(ident, size)
        self._sizes[ident] = size
        while len(self._sizes) > _KNOWN_SIZES:
            self._sizes.popitem(last=False)
        return before

    def _units(self, operation: str, params: dict, parsed: dict, *, refused: bool):
        table = params.get("TableName", "")
        if operation == "PutItem":
            # BatchLab puts only new items (condition: does not exist), so nothing is replaced.
            return write_units(item_size(params.get("Item")))
        if operation in ("UpdateItem", "DeleteItem"):
            key = params.get("Key")
            before = self._known(table, key)
            if refused:
                return write_units(before)
            if "Attributes" in parsed:
                after = item_size(parsed["Attributes"])
            else:
                # No item asked back: at most the item before plus every value written
                # (an upper bound; exact for values that are appended or added).
                values = params.get("ExpressionAttributeValues") or {}
                after = before + sum(value_size(v) for v in values.values())
            self._remember(table, key, after)
            return write_units(max(before, after))
        if operation == "TransactWriteItems":
            total = 0
            for action in params.get("TransactItems", []):
                (kind, body), = action.items()
                if kind == "Put":
                    size = item_size(body.get("Item"))
                elif kind == "Update":
                    # As an UpdateItem that asks for no item back: the size before plus every value written.
                    before = self._known(body.get("TableName", ""), body.get("Key"))
                    size = before + sum(value_size(v) for v in (body.get("ExpressionAttributeValues") or {}).values())
                    if not refused:
                        self._remember(body.get("TableName", ""), body.get("Key"), size)
                else:
                    size = self._known(body.get("TableName", ""), body.get("Key"))
                total += 2 * write_units(size)
            return total
        if operation == "GetItem":
            if "Item" not in parsed:
                return read_units(0, consistent=bool(params.get("ConsistentRead")))
            return read_units(item_size(parsed["Item"]), consistent=bool(params.get("ConsistentRead")))
        if operation == "BatchGetItem":
            total = Decimal(0)
            for table_name, items in (parsed.get("Responses") or {}).items():
                consistent = bool((params.get("RequestItems") or {}).get(table_name, {}).get("ConsistentRead"))
                total += sum((read_units(item_size(i), consistent=consistent) for i in items), Decimal(0))
            return total
        if operation in ("Query", "Scan"):
            size = sum(item_size(i) for i in parsed.get("Items") or [])
            return read_units(size, consistent=bool(params.get("ConsistentRead")))
        return 0

    def _known(self, table: str, key: dict | None) -> int:
        return self._sizes.get((table, json.dumps(key, sort_keys=True, default=str)), 0)

    # -- output -----------------------------------------------------------------

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "pid": self.pid,
                "requests": dict(self.requests),
                "write_units": {k: float(v) for k, v in self.write_units.items()},
                "read_units": {k: float(v) for k, v in self.read_units.items()},
                "refused_conditional_writes": dict(self.refused),
            }

    def _touch(self) -> None:
        self._dirty = True
        if self.directory is not None and self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_loop, name="awsmeter", daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        me = os.getpid()
        while os.getpid() == me:
            time.sleep(FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        if self.directory is None or not self._dirty or os.getpid() != self.pid:
            return
        self._dirty = False
        data = self.snapshot()
        path = self.directory / f"{data['pid']}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)


_READS = {"GetItem", "BatchGetItem", "Query", "Scan"}


# --- Installing the hooks -------------------------------------------------------------------

_installed: AwsMeter | None = None


def _service_operation(event_name: str) -> tuple[str, str]:
    _, service, operation = event_name.split(".", 2)
    return service, operation


def _hook_client(meter: AwsMeter, client) -> None:
    events = client.meta.events

    def on_params(params, context, **kwargs):
        context["awsmeter_params"] = params

    def on_send(event_name, **kwargs):
        meter.count_request(*_service_operation(event_name))

    def on_after_call(event_name, parsed, context, **kwargs):
        service, operation = _service_operation(event_name)
        meter.count_response(service, operation, context.get("awsmeter_params") or {}, parsed or {})

    events.register("before-parameter-build", on_params, unique_id="awsmeter-params")
    # First: a handler that answers the request itself (moto's in-process mock) ends the event.
    events.register_first("before-send", on_send, unique_id="awsmeter-send")
    events.register("after-call", on_after_call, unique_id="awsmeter-after-call")


def install(directory: str | Path | None = None) -> AwsMeter:
    """Count every botocore client created from now on and kombu's async SQS calls; idempotent."""
    global _installed
    if _installed is not None:
        return _installed
    import botocore.session
    from kombu.asynchronous.aws.sqs.connection import AsyncSQSConnection

    path = Path(directory) if directory else None
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
    meter = _installed = AwsMeter(path)

    create_client = botocore.session.Session.create_client

    def counted_create_client(self, *args, **kwargs):
        client = create_client(self, *args, **kwargs)
        _hook_client(meter, client)
        return client

    counted_create_client.__wrapped__ = create_client
    botocore.session.Session.create_client = counted_create_client

    make_request = AsyncSQSConnection.make_request

    def counted_make_request(self, operation, *args, **kwargs):
        meter.count_request("sqs", operation)
        return make_request(self, operation, *args, **kwargs)

    counted_make_request.__wrapped__ = make_request
    AsyncSQSConnection.make_request = counted_make_request
    atexit.register(meter.flush)
    return meter


def meter_get() -> AwsMeter | None:
    return _installed


def totals_read(directory: str | Path) -> dict:
    """The sum of every process's last written totals in `directory`."""
    total = {"requests": Counter(), "write_units": Counter(), "read_units": Counter(), "refused_conditional_writes": Counter()}
    for path in Path(directory).glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced right now: the next read sees it
        for name, counter in total.items():
            counter.update(data.get(name, {}))
    return {name: dict(counter) for name, counter in total.items()}
