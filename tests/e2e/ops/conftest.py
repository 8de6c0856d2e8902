"""One real stack for every operations test (CLI, health, workers, metrics), started once for the package.

Heartbeats every second so that a stale worker shows within a few seconds.
"""

import pytest

from devstack.launcher import EmbeddedStack, free_port
from tests.e2e.conftest import TEST_ENV

OPS_ENV = {
    "BATCHLAB_WORKER_HEARTBEAT_SECONDS": "1",
}


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ops-stack")
    extra = dict(TEST_ENV, **OPS_ENV)
    extra.update(BATCHLAB_SQLITE_PATH=str(tmp / "db.sqlite3"), BATCHLAB_RUN_LOG=str(tmp / "runs.log"))
    stack = EmbeddedStack(
        web_port=free_port(), sqs_port=free_port(), dynamodb_port=free_port(),
        workers=1, recovery=False, web=True, log_dir=tmp / "log", extra_env=extra, quiet=True,
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
