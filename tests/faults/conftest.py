"""Fixtures for the fault scenarios: a stack whose processes reach SQS and DynamoDB through fault proxies.

`fault_stack(**env)` starts moto, one `FaultProxy` in front of each endpoint,
workers, the recovery loop and gunicorn; every BatchLab process gets the
proxies' addresses (AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL_DYNAMODB) while
the checker reads the moto servers directly. The seed comes from
BATCHLAB_FAULT_SEED (to replay a run) or is drawn and printed.
"""

import concurrent.futures
import os
import random
import sys
from dataclasses import dataclass

import boto3
import pytest

from devstack.launcher import ROOT, EmbeddedStack, free_port
from tests.e2e.conftest import TEST_ENV
from tests.e2e.helpers import kill_pids
from tests.faults.proxy import FaultProxy


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.e2e)


@dataclass
class ProxiedStack(EmbeddedStack):
    sqs_proxy: FaultProxy | None = None
    dynamodb_proxy: FaultProxy | None = None
    spawner: concurrent.futures.ThreadPoolExecutor | None = None

    def env(self) -> dict:
        env = super().env()
        env["AWS_ENDPOINT_URL_SQS"] = self.sqs_proxy.endpoint
        env["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb_proxy.endpoint
        return env

    def restart_worker(self):
        """Start a worker from the stack's long-lived spawner thread, callable from any thread.

        The launcher asks the kernel to SIGTERM a child when its parent *thread*
        exits (PR_SET_PDEATHSIG is per thread): a worker started from a
        short-lived chaos thread would be stopped with that thread.
        """
        return self.spawner.submit(self.start_worker).result(timeout=60)

    def clear_faults(self) -> None:
        self.sqs_proxy.clear()
        self.dynamodb_proxy.clear()

    def injected(self) -> dict:
        out = {f"sqs {k}": v for k, v in sorted(self.sqs_proxy.injected.items())}
        out.update({f"dynamodb {k}": v for k, v in sorted(self.dynamodb_proxy.injected.items())})
        return out


def fault_seed() -> int:
    seed = int(os.environ.get("BATCHLAB_FAULT_SEED") or random.SystemRandom().randrange(1, 10**9))
    print(f"\nfault seed {seed} (replay with BATCHLAB_FAULT_SEED={seed})", flush=True)
    return seed


def create_effect_sink(stack: EmbeddedStack) -> None:
    client = boto3.client("dynamodb", endpoint_url=stack.dynamodb_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_table(
        TableName=stack.extra_env["BATCHLAB_EFFECT_SINK_TABLE"], BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "JobId", "AttributeType": "S"}, {"AttributeName": "Token", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "JobId", "KeyType": "HASH"}, {"AttributeName": "Token", "KeyType": "RANGE"}],
    )


@pytest.fixture(scope="module")
def strays():
    """Processes a test stopped, killed or orphaned, as (pid, start time): any still alive is killed at the end."""
    processes: list[tuple[int, int]] = []
    yield processes
    kill_pids(processes)


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory, strays):
    made = []

    def start(*, workers: int = 2, recovery: bool = True, web: bool = True, schedulers: int = 1, **env) -> ProxiedStack:
        tmp = tmp_path_factory.mktemp("faults")
        extra = dict(TEST_ENV, BATCHLAB_EFFECT_SINK_TABLE="batchlab-test-effects", BATCHLAB_RECOVERY_INTERVAL="2",
                     BATCHLAB_HANDLER_MODULES="tests.faults.effect_sink")
        extra.update(BATCHLAB_SQLITE_PATH=str(tmp / "db.sqlite3"), BATCHLAB_RUN_LOG=str(tmp / "runs.log"))
        extra.update({k: str(v) for k, v in env.items()})
        sqs_port, dynamodb_port = free_port(), free_port()
        seed = fault_seed()
        stack = ProxiedStack(
            web_port=free_port(), sqs_port=sqs_port, dynamodb_port=dynamodb_port, workers=0,
            recovery=False, schedulers=schedulers, web=web, log_dir=tmp / "log", extra_env=extra, quiet=True,
            sqs_proxy=FaultProxy(sqs_port, seed=seed, name="sqs"),
            dynamodb_proxy=FaultProxy(dynamodb_port, seed=seed + 1, name="dynamodb"),
            spawner=concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="spawner"),
        )
        made.append(stack)
        stack.start()
        create_effect_sink(stack)
        for _ in range(workers):
            stack.start_worker()
        if recovery:
            stack._spawn("recovery", [sys.executable, str(ROOT / "manage.py"), "batchlab_recover", "--loop"])
        return stack

    yield start
    for stack in made:
        stack.stop()
        stack.sqs_proxy.close()
        stack.dynamodb_proxy.close()
        stack.spawner.shutdown(wait=False)

