"""Fuzz the API from its own OpenAPI document (schemathesis CLI): no request may get a 5xx.

Bounded: a fixed number of examples per operation in the fuzzing phase, plus
stateful scenarios (which follow POST /jobs to the job's own URLs), and a
subprocess timeout. The coverage phase (boundary values, ~190 cases here) is
left out: it alone took 32 s, and test_bad_inputs sends those boundaries on
purpose. Requests carry an API token, not HTTP Basic (~0.2 s of CPU per request
on the password's PBKDF2). The stack
runs with DJANGO_DEBUG=0, as in production. Besides schemathesis' own check,
the web log must hold no 500.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ST = Path(sys.executable).parent / "st"


@pytest.fixture(scope="module")
def stack(make_stack):
    return make_stack(workers=1, DJANGO_DEBUG=0)


def schemathesis(stack, tmp_path, *args, timeout: float = 240) -> dict:
    argv = [
        str(ST), "run", f"{stack.web_url}/api/schema", "--checks", "not_a_server_error",
        "--no-color", "--workers", "2", "--generation-database", "none", "--request-timeout", "30", *args,
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=tmp_path, stdin=subprocess.DEVNULL)
    output = result.stdout + result.stderr
    generated = re.search(r"(\d+) generated", output)
    seed = re.search(r"Seed: (\d+)", output)
    return {
        "returncode": result.returncode,
        "output": output,
        "cases": int(generated.group(1)) if generated else 0,
        "seed": seed.group(1) if seed else None,
    }


def token_header(stack, user: str) -> str:
    """An API token's header: HTTP Basic would spend ~0.2 s of CPU per request on the password (PBKDF2)."""
    return f"Authorization: Token {stack.tokens[user]}"


def test_no_server_error_as_a_user(stack, tmp_path):
    run = schemathesis(stack, tmp_path, "--header", token_header(stack, "demo"), "--max-examples", "10",
                       "--phases", "fuzzing,stateful")
    print(f"\nschemathesis as demo: {run['cases']} test cases, seed {run['seed']}")
    assert run["returncode"] == 0, run["output"][-6000:]
    assert run["cases"] >= 100, run["output"][-3000:]


def test_no_server_error_on_staff_operations(stack, tmp_path):
    run = schemathesis(stack, tmp_path, "--header", token_header(stack, "admin"), "--max-examples", "10",
                       "--phases", "fuzzing", "--include-path-regex", "dead-letters|requeue")
    print(f"\nschemathesis as admin (staff operations): {run['cases']} test cases, seed {run['seed']}")
    assert run["returncode"] == 0, run["output"][-6000:]
    assert run["cases"] > 0


def test_the_web_server_logged_no_500(stack):
    log = (stack.log_dir / "web.log").read_text(errors="replace")
    assert "Internal Server Error" not in log, log[-4000:]
