"""A seeded HTTP-aware TCP fault proxy between BatchLab's processes and one AWS endpoint.

`FaultProxy(upstream_port, seed=...)` listens on a free port on 127.0.0.1 and
forwards each HTTP/1.1 request (Content-Length or chunked bodies, keep-alive on
both sides) to the upstream moto server. The test sets `rules`: each request is
matched against them in order and the first rule whose `ops` include the
request's operation (X-Amz-Target or SQS `Action`) and whose probability draw
hits decides the fault:

- ``latency``: wait `seconds`, then forward;
- ``drop``: the request is not forwarded, the connection is closed (EOF, no answer);
- ``reset``: the request is not forwarded, the connection is reset (RST);
- ``apply_then_fail``: the request is forwarded and applied, the answer is
  dropped and the connection reset: the caller cannot know it was applied;
- ``error``: an answer is made up and the request not forwarded: `status`
  and `body` (DynamoDB throttling, SQS 5xx);
- ``stall``: the request is read and never answered; the connection stays open
  (a black hole, no reset) until the proxy closes;
- ``conflict``: DynamoDB's answer to a write that meets a concurrent transaction
  (a TransactWriteItems canceled with TransactionConflict, or a single-item
  write's TransactionConflictException), made up from the request
  (tests/faults/dynamodb_answers.py); the request is not forwarded, as
  DynamoDB applies none of it;
- ``throttle``: DynamoDB's answer for a throttled key (ThrottlingException; a
  transaction canceled with ThrottlingError); not forwarded either.

A rule with a `key` (a partial DynamoDB key, e.g. ``{"JobId": id, "SK": "JOB"}``)
applies only to requests touching an item with those attributes, and a
``conflict``/``throttle`` answer names those actions as the cause; without a
key, one action drawn at random is. `repeat` bounds how many times a rule hits
the same set of items (the retries of one write): ``repeat=1`` conflicts a write
once, and its retry goes through.

`stall_all(seconds)` black-holes every request for a while. Every draw comes
from one `random.Random(seed)`: the seed is printed so that a run can be replayed
(with thread scheduling, the same seed gives the same mix, not the same order).
`injected` counts faults by kind, `requests` counts requests by operation.
"""

import collections
import json
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from tests.faults.dynamodb_answers import Action, conflict_answer, request_actions, throttle_answer

MADE_UP = ("conflict", "throttle")  # DynamoDB answers built from the request


@dataclass
class Rule:
    kind: str
    probability: float = 1.0
    ops: tuple[str, ...] = ()  # operation names; empty = every operation
    contains: bytes = b""  # and the body contains this (e.g. b'"COMPLETED"')
    seconds: float = 0.0
    status: int = 500
    body: bytes = b""
    limit: int | None = None  # inject at most this many times
    key: dict | None = None  # DynamoDB: only requests touching an item with these attribute values
    repeat: int | None = None  # DynamoDB: at most this many times for the same set of items
    fired: int = field(default=0, compare=False)
    seen: collections.Counter = field(default_factory=collections.Counter, compare=False)

    @property
    def reads_items(self) -> bool:
        return bool(self.key or self.repeat or self.kind in MADE_UP)

    def applies(self, op: str, body: bytes, actions: list[Action]) -> bool:
        if self.limit is not None and self.fired >= self.limit:
            return False
        if self.ops and op not in self.ops or self.contains and self.contains not in body:
            return False
        if self.key and not any(a.touches(self.key) for a in actions):
            return False
        return not (self.repeat is not None and self.seen[tuple(actions)] >= self.repeat)

    def hot(self, actions: list[Action], rng: random.Random) -> set[int]:
        """The actions a made-up answer names as the cause: those touching the key, else one at random."""
        if self.key:
            return {i for i, a in enumerate(actions) if a.touches(self.key)}
        return {rng.randrange(len(actions))} if actions else set()


def throttled_dynamodb() -> dict:
    """An `error` rule's fields for DynamoDB's ProvisionedThroughputExceededException."""
    body = {"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded."}
    return {"status": 400, "body": json.dumps(body).encode()}


class _Closed(Exception):
    pass


def _read_until(sock: socket.socket, buf: bytearray, marker: bytes) -> bytes:
    while marker not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise _Closed()
        buf += chunk
    index = buf.index(marker) + len(marker)
    head = bytes(buf[:index])
    del buf[:index]
    return head


def _read_exact(sock: socket.socket, buf: bytearray, size: int) -> bytes:
    while len(buf) < size:
        chunk = sock.recv(65536)
        if not chunk:
            raise _Closed()
        buf += chunk
    data = bytes(buf[:size])
    del buf[:size]
    return data


def read_message(sock: socket.socket, buf: bytearray, *, response: bool = False, method: str = "") -> tuple[bytes, bytes, bytes]:
    """One HTTP/1.x message: (head, body, raw bytes). Raises _Closed at EOF."""
    head = _read_until(sock, buf, b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if response and (method == "HEAD" or lines[0].split()[1] in ("204", "304")):
        return head, b"", head
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raw, body = bytearray(), bytearray()
        while True:
            size_line = _read_until(sock, buf, b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            data = _read_exact(sock, buf, size + 2)
            raw += size_line + data
            body += data[:-2]
            if size == 0:
                raw += _read_until(sock, buf, b"\r\n") if buf[:2] != b"\r\n" else b""
                break
        return head, bytes(body), head + bytes(raw)
    if "content-length" in headers:
        body = _read_exact(sock, buf, int(headers["content-length"]))
        return head, body, head + body
    if response:  # no length: the body runs to EOF
        body = bytearray(buf)
        buf.clear()
        while chunk := sock.recv(65536):
            body += chunk
        return head, bytes(body), head + bytes(body)
    return head, b"", head


def operation(head: bytes, body: bytes) -> str:
    """DynamoDB_20120810.UpdateItem -> UpdateItem; AmazonSQS.ReceiveMessage or Action=ReceiveMessage -> ReceiveMessage."""
    text = head.decode("latin-1")
    for line in text.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "x-amz-target":
            return value.strip().rsplit(".", 1)[-1]
    query = text.split(" ", 2)[1].partition("?")[2] if " " in text else ""
    for source in (query, body.decode("latin-1", "replace")):
        action = parse_qs(source).get("Action")
        if action:
            return action[0]
    return "?"


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class FaultProxy:
    def __init__(self, upstream_port: int, *, seed: int, name: str = "proxy", host: str = "127.0.0.1"):
        self.upstream = (host, upstream_port)
        self.name = name
        self.seed = seed
        self.rng = random.Random(seed)
        self.rules: list[Rule] = []
        self.injected: collections.Counter = collections.Counter()
        self.requests: collections.Counter = collections.Counter()
        self.stalled_until = 0.0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._server = socket.create_server((host, 0), backlog=256)
        self.port = self._server.getsockname()[1]
        self.endpoint = f"http://{host}:{self.port}"
        print(f"fault proxy {name}: 127.0.0.1:{self.port} -> :{upstream_port}, seed {seed}", flush=True)
        threading.Thread(target=self._accept, name=f"{name}-accept", daemon=True).start()

    # -- control ----------------------------------------------------------------

    def set_rules(self, *rules: Rule) -> None:
        with self._lock:
            self.rules = list(rules)

    def clear(self) -> None:
        self.set_rules()
        self.stalled_until = 0.0

    def stall_all(self, seconds: float) -> None:
        self.stalled_until = time.monotonic() + seconds

    def close(self) -> None:
        self._closing.set()
        self._server.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.close()
            except OSError:
                pass

    # -- forwarding ---------------------------------------------------------------

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.add(sock)
        return sock

    def _choose(self, op: str, body: bytes) -> tuple[Rule | None, bytes]:
        """The rule that decides this request (or None: forwarded as is), and a made-up answer's body if it has one."""
        with self._lock:
            self.requests[op] += 1
            if time.monotonic() < self.stalled_until:
                self.injected["stall"] += 1
                return Rule("stall"), b""
            actions = request_actions(op, body) if any(r.reads_items for r in self.rules) else []
            for rule in self.rules:
                if rule.applies(op, body, actions) and self.rng.random() < rule.probability:
                    rule.fired += 1
                    rule.seen[tuple(actions)] += 1
                    self.injected[rule.kind] += 1
                    if rule.kind in MADE_UP:
                        answer = conflict_answer if rule.kind == "conflict" else throttle_answer
                        return rule, answer(op, actions, rule.hot(actions, self.rng))
                    return rule, rule.body
        return None, b""

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(self._track(client),), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        cbuf, ubuf = bytearray(), bytearray()
        try:
            while not self._closing.is_set():
                head, body, raw = read_message(client, cbuf)
                op = operation(head, body)
                rule, made_up = self._choose(op, body)
                kind = rule.kind if rule else "pass"
                if kind == "stall":
                    self._closing.wait()  # never answered, never reset
                    return
                if kind == "drop":
                    client.close()
                    return
                if kind == "reset":
                    _reset(client)
                    return
                if kind in ("error", *MADE_UP):
                    client.sendall(self._made_up(400 if kind in MADE_UP else rule.status, made_up))
                    continue
                if kind == "latency":
                    time.sleep(rule.seconds)
                if upstream is None:
                    upstream = self._track(socket.create_connection(self.upstream, timeout=120))
                    ubuf = bytearray()
                upstream.sendall(raw)
                method = head.split(b" ", 1)[0].decode()
                _, _, answer = read_message(upstream, ubuf, response=True, method=method)
                if kind == "apply_then_fail":
                    _reset(client)
                    return
                client.sendall(answer)
                if b"connection: close" in answer.split(b"\r\n\r\n", 1)[0].lower():
                    upstream.close()
                    upstream = None
        except (_Closed, OSError, ValueError, IndexError):
            pass
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    try:
                        sock.close()
                    except OSError:
                        pass
                    with self._lock:
                        self._sockets.discard(sock)

    @staticmethod
    def _made_up(status: int, body: bytes) -> bytes:
        content_type = "application/x-amz-json-1.0" if body.startswith(b"{") else "text/xml"
        head = (f"HTTP/1.1 {status} Error\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nx-amzn-RequestId: fault-proxy\r\n\r\n")
        return head.encode() + body
