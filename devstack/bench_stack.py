"""What the benchmark runs its scenarios on: the stack, the three systems (BatchLab, the no-op floor, the peer), their servers, workers and clients.

A `Bench` holds the running stack (BatchLab's web, no workers yet), the no-op
floor's DRF server and the peer's, and the HTTP and AWS clients. Each system's
workers run on the same moto SQS server with the same broker and consumer
options; each system's processes count their AWS requests in their own meter
directory (batchlab.awsmeter).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import requests

from batchlab import awsmeter
from devstack import bare_names
from devstack.launcher import BIN, EmbeddedStack, wait_for_port

GHOST_POLL_SECONDS = 21  # a stopped worker's last long poll may still take a message this long (moto)


@dataclass(frozen=True)
class System:
    """One system under test: its queue (after the queue prefix), its worker processes' names and Celery app."""

    name: str
    queue: str
    worker_prefix: str
    group: str  # the CPU group of its workers (Bench.groups)
    celery_app: str | None  # `celery -A` of a baseline; None: BatchLab's own (EmbeddedStack.start_worker)


SYSTEMS = {
    "bare": System("bare", bare_names.CELERY_QUEUE, "bare-worker", "bare-workers", "devstack.bare_app"),
    "peer": System("peer", bare_names.PEER_QUEUE, "peer-worker", "peer-workers", "devstack.peer_app"),
    "batchlab": System("batchlab", "jobs", "worker", "workers", None),
}


@dataclass
class Post:
    started: float
    seconds: float
    ok: bool
    job_id: str | None


@dataclass
class Bench:
    stack: EmbeddedStack
    token: str
    urls: dict  # submit target -> URL ("batchlab", "bare-validate", "peer")
    meter_dirs: dict  # system -> directory of its processes' meter files
    stopped_at: dict = field(default_factory=dict)  # system -> time.monotonic() its last drain ended
    _local: threading.local = field(default_factory=threading.local)

    # -- HTTP ---------------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["Authorization"] = f"Token {self.token}"
        return self._local.session

    def post(self, url: str, body: dict) -> Post:
        started, clock = time.time(), time.perf_counter()
        try:
            response = self.session.post(url, json=body, timeout=30)
        except requests.RequestException:
            return Post(started, time.perf_counter() - clock, False, None)
        ok = response.status_code == 201
        return Post(started, time.perf_counter() - clock, ok, response.json().get("id") if ok else None)

    def post_many(self, url: str, n: int, clients: int, payload: dict) -> list[Post]:
        body = lambda i: {"name": f"bench {i}", "type": "echo", "payload": payload}  # noqa: E731
        with ThreadPoolExecutor(max_workers=clients) as pool:
            return list(pool.map(lambda i: self.post(url, body(i)), range(n)))

    # -- AWS ------------------------------------------------------------------------

    def sqs(self):
        if not hasattr(self, "_sqs"):
            self._sqs = boto3.client("sqs", endpoint_url=self.stack.sqs_endpoint, region_name="us-east-1",
                                     aws_access_key_id="testing", aws_secret_access_key="testing")
        return self._sqs

    def queue_url(self, system: str) -> str:
        return self.sqs().get_queue_url(QueueName=f"batchlab-{SYSTEMS[system].queue}")["QueueUrl"]

    def queue_depth(self, url: str) -> int:
        attrs = self.sqs().get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def meter(self, system: str) -> dict:
        return awsmeter.totals_read(self.meter_dirs[system])

    # -- processes --------------------------------------------------------------------

    def groups(self) -> dict[str, list[int]]:
        names = self.stack.processes
        pick = lambda prefix: [p.pid for n, p in names.items() if n.startswith(prefix)]  # noqa: E731
        return {"web": pick("web"), "bare-web": pick("bare-web"), "peer-web": pick("peer-web"),
                **{s.group: pick(s.worker_prefix) for s in SYSTEMS.values()},
                "moto-sqs": pick("moto-sqs"), "moto-dynamodb": pick("moto-dynamodb")}

    def start_workers(self, system: str, workers: int, concurrency: int) -> list[str]:
        spec = SYSTEMS[system]
        env = self.stack.env() | {"BATCHLAB_WORKER_CONCURRENCY": str(concurrency)}
        names = []
        # Worker logs are appended to: look for "ready." only past their current end.
        offsets = {p.name: p.stat().st_size for p in self.stack.log_dir.glob("*worker*.log")}
        for _ in range(workers):
            if spec.celery_app is None:
                self.stack.extra_env["BATCHLAB_WORKER_CONCURRENCY"] = str(concurrency)
                proc = self.stack.start_worker()
                names.append(next(n for n, p in self.stack.processes.items() if p is proc))
                continue
            index = 1
            while f"{spec.worker_prefix}{index}" in self.stack.processes:
                index += 1
            name = f"{spec.worker_prefix}{index}"
            # No Django: Celery's Django fixup stays off in a baseline's worker.
            base_env = {k: v for k, v in env.items() if k != "DJANGO_SETTINGS_MODULE"}
            base_env["BATCHLAB_AWS_METER_DIR"] = str(self.meter_dirs[system])
            self.stack._spawn(name, [str(BIN / "celery"), "-A", spec.celery_app, "worker", "--loglevel", "INFO",
                                     "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle"], env=base_env)
            names.append(name)
        wait_ready(self.stack, names, offsets)
        return names

    def stop_workers(self, names: list[str]) -> None:
        for name in names:
            self.stack.stop_process(name, grace=25)

    def wait_for_ghost_polls(self, system: str) -> None:
        """moto keeps a stopped worker's long poll open up to 20 s and would hand it the next message
        (invisible for the visibility timeout): queue nothing for a system until its workers' last
        polls, begun at the end of its drain at the latest, have run out."""
        since = time.monotonic() - self.stopped_at.get(system, -1e9)
        if since < GHOST_POLL_SECONDS:
            time.sleep(GHOST_POLL_SECONDS - since)


def wait_ready(stack: EmbeddedStack, names: list[str], offsets: dict, timeout: float = 90) -> None:
    logs = [stack.log_dir / f"{name}.log" for name in names]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(log.exists() and " ready." in log.read_text(errors="replace")[offsets.get(log.name, 0):] for log in logs):
            return
        time.sleep(0.1)
    raise TimeoutError(f"workers {names} not ready within {timeout:.0f} s; see {stack.log_dir}")


def _aws(stack: EmbeddedStack, service: str):
    endpoint = stack.sqs_endpoint if service == "sqs" else stack.dynamodb_endpoint
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def start_baseline_web(stack: EmbeddedStack, name: str, port: int, settings: str, meter_dir: Path) -> str:
    """A baseline's DRF server: gunicorn as BatchLab's (2 workers x 8 threads), its own settings and meter."""
    env = stack.env() | {"DJANGO_SETTINGS_MODULE": settings, "BATCHLAB_AWS_METER_DIR": str(meter_dir)}
    proc = stack._spawn(name, [str(BIN / "gunicorn"), "batchlab.wsgi:application",
                               "--bind", f"{stack.host}:{port}", "--workers", "2", "--threads", "8", "--timeout", "60"], env=env)
    wait_for_port(stack.host, port, timeout=60, proc=proc, name=f"{name} server")
    return f"http://{stack.host}:{port}"


def prepare_baselines(stack: EmbeddedStack) -> None:
    """The peer's result table, as Celery's DynamoDB backend would create it (hash key "id"), made before any
    peer process starts (each would try to create it). The queues are kombu's, made at the first send."""
    _aws(stack, "dynamodb").create_table(
        TableName=bare_names.PEER_TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
