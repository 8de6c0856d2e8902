"""docs/openapi.yaml is the API as the code describes it: regenerated here, any difference fails with how to fix it."""

import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "docs" / "openapi.yaml"


def openapi_env() -> dict:
    """The environment `make openapi` generates in: its OPENAPI_ENV line, read from the Makefile."""
    line = re.search(r"^OPENAPI_ENV := env (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    pairs = dict(item.split("=", 1) for item in line.split())
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **pairs}


def test_the_committed_openapi_document_is_up_to_date(tmp_path):
    generated = tmp_path / "openapi.yaml"
    subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(generated)],
        cwd=ROOT, env=openapi_env(), check=True, capture_output=True, text=True, timeout=120,
    )
    fresh, committed = generated.read_text(), COMMITTED.read_text() if COMMITTED.exists() else ""
    if fresh != committed:
        diff = "".join(list(difflib.unified_diff(committed.splitlines(True), fresh.splitlines(True),
                                                 "docs/openapi.yaml (committed)", "generated from the code"))[:80])
        raise AssertionError(
            "The API changed but docs/openapi.yaml did not. Run `make openapi`, review the diff and commit "
            f"docs/openapi.yaml with your change.\n{diff}"
        )


def test_the_document_shows_examples_and_problem_json_errors():
    document = yaml.safe_load(COMMITTED.read_text())
    submit = document["paths"]["/jobs"]["post"]
    examples = submit["requestBody"]["content"]["application/json"]["examples"].values()
    assert {"sleep for 3 seconds", "count words"} <= {e["summary"] for e in examples}
    assert submit["responses"]["201"]["content"]["application/json"]["examples"]
    bad = submit["responses"]["400"]["content"]["application/problem+json"]
    assert bad["schema"]["$ref"].endswith("/Problem")
    assert next(iter(bad["examples"].values()))["value"]["code"] == "validation_error"
    assert "/workers" in document["paths"] and "/jobs/{job_id}/cancel" in document["paths"]


def test_schema_docs_and_redoc_are_served_from_this_server(client):
    for path in ("/api/schema/", "/api/schema"):
        response = client.get(path)
        assert response.status_code == 200 and b"openapi: 3" in response.content, path
    for path in ("/api/docs/", "/api/redoc/"):
        html = client.get(path).content.decode()
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets and all(a.startswith("/static/drf_spectacular_sidecar/") for a in assets), (path, assets)
        assert "cdn" not in html.lower()
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
