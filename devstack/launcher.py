"""The embedded stack: moto servers, bootstrap, Celery worker(s), recovery loop, scheduler(s) and the web server.

`make run` calls `python -m devstack` (this module's `main`); the end-to-end tests and the
benchmark use the same `EmbeddedStack`. Every process is started here, tracked
by PID, and stopped here (SIGTERM, then SIGKILL after a grace period).

Two moto servers, one for SQS (and S3) and one for DynamoDB: moto is single-threaded
Python under the GIL and the bottleneck of this stack; two processes use both
cores. moto keeps everything in memory: stopping it loses every job.
"""

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# `make run`'s worker runs this many jobs at once unless BATCHLAB_WORKER_CONCURRENCY
# says otherwise: with one slot, one long job held every short job behind it
# (an 8 s `sleep` kept four `echo` jobs QUEUED for 8 s). Chosen from the
# benchmark's drain figures in docs/benchmark.md.
EMBEDDED_WORKER_CONCURRENCY = 4


def _die_with_parent() -> None:
    """In the child before exec: own process group, and SIGTERM when the launcher dies.

    The process group lets stop/kill reach a Celery worker's prefork children
    too; PR_SET_PDEATHSIG (Linux) means a launcher killed outright (a test run
    hitting its timeout) leaves no server or worker behind.
    """
    os.setpgid(0, 0)
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the process group still lets stop() reach every child


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, *, timeout: float, proc: subprocess.Popen | None = None, name: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name or proc.args[0]} exited with {proc.returncode} before listening on {port}")
        time.sleep(0.1)
    raise TimeoutError(f"{name} did not listen on {host}:{port} within {timeout:.0f} s")


# Every started stack's demo tokens by its web URL: what the tests' clients authenticate with (an API token costs
# the web server no password hash; HTTP Basic costs ~0.2 s of CPU per request, PBKDF2).
TOKENS_BY_URL: dict[str, dict[str, str]] = {}


@dataclass
class EmbeddedStack:
    host: str = "127.0.0.1"
    web_port: int = 8000
    sqs_port: int = 5100
    dynamodb_port: int = 5101
    workers: int = 1
    recovery: bool = True
    schedulers: int = 1
    web: bool = True
    demo_users: bool = True
    log_dir: Path = ROOT / "var" / "log"
    extra_env: dict = field(default_factory=dict)
    quiet: bool = False
    processes: dict = field(default_factory=dict)
    worker_metrics_ports: dict = field(default_factory=dict)
    # The demo accounts' API tokens (user -> key), once started with demo_users.
    tokens: dict = field(default_factory=dict)

    # -- environment ----------------------------------------------------------

    @property
    def sqs_endpoint(self) -> str:
        return f"http://{self.host}:{self.sqs_port}"

    @property
    def dynamodb_endpoint(self) -> str:
        return f"http://{self.host}:{self.dynamodb_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            BATCHLAB_EMBEDDED="1",
            DJANGO_SETTINGS_MODULE="batchlab.settings",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION=env.get("AWS_REGION", "us-east-1"),
            AWS_ENDPOINT_URL_SQS=self.sqs_endpoint,
            AWS_ENDPOINT_URL_DYNAMODB=self.dynamodb_endpoint,
            # S3 on the SQS moto server: it serves every service, and unlike the
            # DynamoDB one it is not serialised behind a lock (a long upload
            # would hold every other request).
            AWS_ENDPOINT_URL_S3=self.sqs_endpoint,
            PYTHONUNBUFFERED="1",
        )
        env.pop("AWS_ENDPOINT_URL", None)
        env.pop("AWS_PROFILE", None)
        env.update({k: str(v) for k, v in self.extra_env.items()})
        return env

    def say(self, message: str) -> None:
        if not self.quiet:
            print(message, flush=True)

    # -- processes --------------------------------------------------------------

    def metrics_dir(self, name: str) -> Path:
        """PROMETHEUS_MULTIPROC_DIR of one process group (the web server's, or one worker's), emptied at its start."""
        return self.log_dir.parent / "metrics" / name

    def _spawn(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=self.env() if env is None else env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        log.close()
        self.processes[name] = proc
        return proc

    def manage(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=self.env(),
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start_moto(self, service: str) -> subprocess.Popen:
        port = self.sqs_port if service == "sqs" else self.dynamodb_port
        if _port_open(self.host, port):
            raise RuntimeError(f"Port {port} on {self.host} is already in use; set BATCHLAB_{service.upper()}_PORT.")
        # DynamoDB's moto applies one request at a time, as DynamoDB does (see
        # devstack.moto_serial); SQS's reads a cheaper clock (see devstack.moto_sqs).
        module = "devstack.moto_sqs" if service == "sqs" else "devstack.moto_serial"
        proc = self._spawn(f"moto-{service}", [sys.executable, "-m", module, "-H", self.host, "-p", str(port)])
        wait_for_port(self.host, port, timeout=60, proc=proc, name=f"moto ({service})")
        return proc

    def start_worker(self, index: int | None = None) -> subprocess.Popen:
        if index is None:
            # The lowest number not in use. Counting the tracked workers instead
            # would, once one was killed or stopped (and untracked), hand out
            # the name of a running worker and overwrite its Popen: that
            # worker would never be stopped.
            index = 1
            while f"worker{index}" in self.processes:
                index += 1
        name = f"worker{index}"
        if name in self.processes and self.processes[name].poll() is None:
            raise RuntimeError(f"{name} is already running (pid {self.processes[name].pid})")
        self.worker_metrics_ports[name] = free_port()
        return self._spawn(name, [
            str(BIN / "celery"), "-A", "batchlab", "worker", "--loglevel", "INFO",
            "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle",
        ], env=self._metrics_env(name, BATCHLAB_WORKER_METRICS_PORT=str(self.worker_metrics_ports[name])))

    def _metrics_env(self, name: str, **extra: str) -> dict:
        """Each process group sums its processes' metrics from its own, fresh PROMETHEUS_MULTIPROC_DIR."""
        directory = self.metrics_dir(name)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        return {**self.env(), "PROMETHEUS_MULTIPROC_DIR": str(directory), **extra}

    def start_scheduler(self, name: str | None = None, *, env: dict | None = None) -> subprocess.Popen:
        """One more `manage.py batchlab_scheduler` (any number may run), with extra environment if given."""
        if name is None:
            index = 1
            while f"scheduler{index}" in self.processes:
                index += 1
            name = f"scheduler{index}"
        if name in self.processes and self.processes[name].poll() is None:
            raise RuntimeError(f"{name} is already running (pid {self.processes[name].pid})")
        return self._spawn(name, [sys.executable, str(ROOT / "manage.py"), "batchlab_scheduler"],
                           env={**self.env(), **{k: str(v) for k, v in (env or {}).items()}})

    def start_web(self) -> subprocess.Popen:
        if _port_open(self.host, self.web_port):
            raise RuntimeError(f"Port {self.web_port} on {self.host} is already in use; set BATCHLAB_WEB_PORT.")
        proc = self._spawn("web", [
            str(BIN / "gunicorn"), "batchlab.wsgi:application", "--bind", f"{self.host}:{self.web_port}",
            "--workers", "2", "--threads", "8", "--timeout", "60", "--graceful-timeout", "10",
        ], env=self._metrics_env("web"))
        wait_for_port(self.host, self.web_port, timeout=60, proc=proc, name="web server")
        return proc

    def start(self) -> "EmbeddedStack":
        try:
            self.start_moto("sqs")
            self.start_moto("dynamodb")
            self.say(f"moto SQS      {self.sqs_endpoint}")
            self.say(f"moto DynamoDB {self.dynamodb_endpoint}")
            self.manage("migrate", "--noinput")
            for line in self.manage("batchlab_bootstrap").splitlines():
                self.say(f"bootstrap     {line}")
            if self.demo_users:
                for line in self.manage("batchlab_demo_users").splitlines():
                    self.say(f"accounts      {line}")
                    found = re.search(r"(\S+)/\S+, API token (\w+)", line)
                    if found:
                        self.tokens[found.group(1)] = found.group(2)
                TOKENS_BY_URL[self.web_url] = self.tokens
            for _ in range(self.workers):
                proc = self.start_worker()
                port = list(self.worker_metrics_ports.values())[-1]
                self.say(f"worker        pid {proc.pid} (celery -A batchlab worker), metrics http://{self.host}:{port}/metrics")
            if self.recovery:
                proc = self._spawn("recovery", [sys.executable, str(ROOT / "manage.py"), "batchlab_recover", "--loop"])
                self.say(f"recovery      pid {proc.pid} (manage.py batchlab_recover --loop)")
            for _ in range(self.schedulers):
                proc = self.start_scheduler()
                self.say(f"scheduler     pid {proc.pid} (manage.py batchlab_scheduler)")
            if self.web:
                proc = self.start_web()
                self.say(f"web           {self.web_url}  (pid {proc.pid})")
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _signal_group(proc: subprocess.Popen, signum: int) -> None:
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            pass

    def stop_process(self, name: str, *, grace: float = 15) -> None:
        """SIGTERM to the process; after `grace` seconds SIGKILL to its whole group."""
        proc = self.processes.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in its group (a worker's prefork children) goes too.
        self._signal_group(proc, signal.SIGKILL)
        if proc.poll() is None:
            proc.wait(timeout=10)

    def delivery_worker_pid(self, name: str) -> int | None:
        """The pid of the delivery worker (`celery worker -Q webhooks`) that worker `name` started, if it runs."""
        parent = self.processes[name].pid
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == parent and b"-Q" in cmdline and b"webhooks" in cmdline:
                return int(entry.name)
        return None

    def kill_process(self, name: str, *, group: bool = True) -> None:
        """kill -9: the process and (by default) its group, as when a machine dies."""
        proc = self.processes.pop(name)
        if group:
            self._signal_group(proc, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait(timeout=10)

    def stop(self) -> None:
        order = ["web", "recovery"] + sorted(n for n in self.processes if n.startswith("scheduler")) + sorted(n for n in self.processes if n.startswith("worker")) + ["moto-sqs", "moto-dynamodb"]
        for name in order + list(self.processes):
            self.stop_process(name, grace=25 if name.startswith("worker") else 10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def main() -> int:
    stack = EmbeddedStack(
        host=os.environ.get("BATCHLAB_HOST", "127.0.0.1"),
        web_port=int(os.environ.get("BATCHLAB_WEB_PORT", "8000")),
        sqs_port=int(os.environ.get("BATCHLAB_SQS_PORT", "5100")),
        dynamodb_port=int(os.environ.get("BATCHLAB_DYNAMODB_PORT", "5101")),
        workers=int(os.environ.get("BATCHLAB_WORKERS", "1")),
        extra_env={"BATCHLAB_WORKER_CONCURRENCY": os.environ.get("BATCHLAB_WORKER_CONCURRENCY") or EMBEDDED_WORKER_CONCURRENCY},
    )
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # Under `make run`, a SIGTERM sent to make kills make alone; ask the kernel
    # to pass it on to us when our parent dies, so that everything stops.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass
    print("Starting BatchLab (embedded: moto stands in for AWS; data lives in memory only)...", flush=True)
    stack.start()
    print(f"\nBatchLab is up: open {stack.web_url} (log in as demo/demo, staff: admin/admin).", flush=True)
    print(f"Logs in {stack.log_dir}. Ctrl-C (or SIGTERM) stops everything.\n", flush=True)
    try:
        while not stopping:
            for name, proc in list(stack.processes.items()):
                if proc.poll() is not None and name.startswith("worker"):
                    # As a supervisor would: a worker that stopped (its receive watchdog
                    # saw a stuck consumer, or it crashed) is started again.
                    stack.processes.pop(name)
                    restarted = stack.start_worker()
                    print(f"{name} exited with {proc.returncode}; started again (pid {restarted.pid}).", flush=True)
                elif proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping.", flush=True)
                    stopping.append(name)
                    break
            time.sleep(0.5)
    finally:
        print("Stopping BatchLab...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
