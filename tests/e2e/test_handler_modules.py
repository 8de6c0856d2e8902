"""A job type in the user's own package (the README's example, verbatim), loaded through BATCHLAB_HANDLER_MODULES.

The module is written into a temporary directory outside the repository and put on
PYTHONPATH; the stack is real (moto servers, a `celery -A batchlab worker`,
gunicorn). A module that cannot be imported stops a process at start-up, named.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.launcher import ROOT
from tests.e2e.conftest import Api

EXAMPLE = "acme_jobs/greetings.py"


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """The README's example module in a directory of its own (not under the repository), as a package."""
    readme = (ROOT / "README.md").read_text()
    [code] = re.findall(rf"```python\n(# {re.escape(EXAMPLE)}.*?)```", readme, re.S)
    home = tmp_path_factory.mktemp("acme-jobs")
    assert ROOT not in home.parents
    (home / "acme_jobs").mkdir()
    (home / "acme_jobs" / "__init__.py").write_text("")
    (home / EXAMPLE).write_text(code)
    return home


def python_path(home: Path) -> str:
    return os.pathsep.join(p for p in (str(home), os.environ.get("PYTHONPATH", "")) if p)


@pytest.fixture(scope="module")
def stack(make_stack, package):
    return make_stack(workers=1, PYTHONPATH=python_path(package), BATCHLAB_HANDLER_MODULES="acme_jobs.greetings")


def test_a_job_type_from_the_users_package_is_listed_validated_and_run_by_a_real_worker(api: Api):
    types = {t["name"]: t for t in api.get("/job-types").json()["results"]}
    assert types["greet"]["example"] == {"names": ["Ada", "Linus"]} and types["greet"]["description"] == "Greet each name."
    assert "echo" in types  # the built-in types are still there

    job = api.submit("greet", {"names": ["Ada", "Linus"], "greeting": "Hi"}, name="greetings")
    done = api.wait(job["id"])
    assert done["status"] == "COMPLETED", done
    assert done["result"] == {"greetings": ["Hi, Ada!", "Hi, Linus!"]}
    assert done["progress"] == {"done": 2, "total": 2}
    assert [e["message"] for e in done["timeline"] if e["event"] == "log"] == ["greeted Ada", "greeted Linus"]

    refused = api.post("/jobs", json={"name": "bad", "type": "greet", "payload": {"names": "Ada"}})
    assert refused.status_code == 400 and "payload.names" in refused.json()["errors"], refused.text
    failed = api.wait(api.submit("greet", {"names": ["nobody"]})["id"])
    assert failed["status"] == "FAILED" and failed["attempts"] == 1
    assert failed["error"] == {"code": "permanent_error", "message": "nobody cannot be greeted"}


@pytest.mark.parametrize("argv", [
    ["-m", "celery", "-A", "batchlab", "worker", "--loglevel", "INFO"],
    ["manage.py", "check"],
], ids=["worker", "manage.py"])
def test_a_module_that_cannot_be_imported_stops_a_process_at_start_up_naming_it(stack, package, argv):
    env = {**stack.env(), "PYTHONPATH": python_path(package), "BATCHLAB_HANDLER_MODULES": "acme_jobs.greetings, acme_jobs.missing"}
    started = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    output = started.stdout + started.stderr
    assert started.returncode != 0, output
    assert "BATCHLAB_HANDLER_MODULES names 'acme_jobs.missing', which cannot be imported" in output, output
    assert "No module named 'acme_jobs.missing'" in output
