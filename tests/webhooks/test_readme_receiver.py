"""The README's five-line receiver, verbatim (Flask, which moto's server brings): it accepts what BatchLab signs and answers 400 to the rest."""

import re
from datetime import datetime, timedelta, timezone

from devstack.launcher import ROOT
from jobs.services.webhooks import signing


def readme_receiver(secret: str):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("A receiver that verifies, in five lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) == 5
    scope: dict = {"__name__": "readme_receiver"}
    exec(compile(code.replace("whsec_…", secret), "README.md", "exec"), scope)  # noqa: S102 (the README's own code)
    return scope["app"].test_client()


def test_the_readme_receiver_accepts_a_signed_event_and_refuses_a_forged_or_stale_one(capsys):
    secret = signing.secret_new()
    client = readme_receiver(secret)
    body = '{"type":"job.completed","timestamp":"2026-12-02T13:25:11.179Z","data":{"id":"j-1","status":"COMPLETED"}}'
    headers = signing.headers_signed(msg_id="evt_1", body=body, secrets=[secret])
    assert client.post("/batchlab", data=body, headers=headers, content_type="application/json").status_code == 204
    assert "job.completed j-1" in capsys.readouterr().out
    tampered = body.replace("j-1", "j-2")
    assert client.post("/batchlab", data=tampered, headers=headers, content_type="application/json").status_code == 400
    stale = signing.headers_signed(msg_id="evt_1", body=body, secrets=[secret], at=datetime.now(timezone.utc) - timedelta(minutes=6))
    assert client.post("/batchlab", data=body, headers=stale, content_type="application/json").status_code == 400
    other = signing.headers_signed(msg_id="evt_1", body=body, secrets=[signing.secret_new()])
    assert client.post("/batchlab", data=body, headers=other, content_type="application/json").status_code == 400
