"""docs/deploy.md: its IAM policies are valid policy JSON scoped to BatchLab's resources, and every variable it names exists."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "deploy.md").read_text()


def policies() -> dict[str, dict]:
    """{heading: policy} for each ```json block that is an IAM policy."""
    out = {}
    for heading, block in re.findall(r"### ([^\n]+)\n(?:(?!### ).)*?```json\n(.*?)```", GUIDE, re.S):
        document = json.loads(block)
        if "Statement" in document:
            out[heading.strip()] = document
    return out


def test_one_valid_policy_per_process_kind():
    found = policies()
    assert set(found) == {"Web (API and pages)", "Workers", "Recovery and scheduler", "Bootstrap (CI/CD only)"}
    for name, policy in found.items():
        assert policy["Version"] == "2012-10-17", name
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow" and statement["Action"], name
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(re.fullmatch(r"(dynamodb|sqs|s3):[A-Z][A-Za-z]+", a) for a in actions), (name, actions)
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            # Scoped to BatchLab's resources; "*" only for ListQueues, which has no resource level.
            assert all("batchlab" in r for r in resources) or actions == ["sqs:ListQueues"], (name, resources)
    worker_actions = {a for s in found["Workers"]["Statement"] for a in s["Action"]}
    assert "dynamodb:CreateTable" not in worker_actions and "sqs:CreateQueue" not in worker_actions
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= worker_actions


def test_every_variable_it_names_is_a_real_setting():
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    named = set(re.findall(r"`((?:BATCHLAB|DJANGO|AWS|PROMETHEUS)_[A-Z0-9_]+)", GUIDE))
    assert named and named <= documented, named - documented
