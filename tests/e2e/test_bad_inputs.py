"""Bad input of every kind gets the right 4xx as problem+json with a stable code, and nothing else breaks.

The stack runs with DJANGO_DEBUG=0, as in production, so that Django's own
error pages are the ones a client would get. Each case is sent as raw bytes
where the point is what JSON parsers make of them (NaN, lone surrogates,
invalid UTF-8, deep nesting).
"""

import base64
import http.client
import io
import json
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests


VALID = {"name": "ok", "type": "echo", "payload": {}}
JSON = {"Content-Type": "application/json"}
LIMIT = 64 * 1024  # BATCHLAB_MAX_PAYLOAD_BYTES (default)


def body(value) -> bytes:
    return json.dumps(value).encode()


def nested(depth: int) -> bytes:
    return b'{"name":"deep","type":"echo","payload":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"


# (case id, method, path, request kwargs, expected status, expected code)
POST = "POST", "/jobs"
CASES = [
    # -- the body is not JSON, or not the JSON we take
    ("malformed JSON", *POST, dict(data=b"{not json", headers=JSON), 400, "malformed_request"),
    ("truncated JSON", *POST, dict(data=b'{"name": "x", "type": "echo"', headers=JSON), 400, "malformed_request"),
    ("trailing garbage", *POST, dict(data=body(VALID) + b" xyz", headers=JSON), 400, "malformed_request"),
    ("empty body", *POST, dict(data=b"", headers=JSON), 400, "validation_error"),
    ("text/plain", *POST, dict(data=body(VALID), headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type"),
    ("form encoded", *POST, dict(data={"name": "x", "type": "echo"}), 415, "unsupported_media_type"),
    ("no content type", *POST, dict(data=body(VALID), headers={"Content-Type": ""}), 415, "unsupported_media_type"),
    ("UTF-8 body declared UTF-16", *POST, dict(data=body(VALID), headers={"Content-Type": "application/json; charset=utf-16"}), 400, "malformed_request"),
    ("invalid UTF-8", *POST, dict(data=b'{"name":"\xff\xfe","type":"echo"}', headers=JSON), 400, "malformed_request"),
    ("UTF-8 BOM", *POST, dict(data=b"\xef\xbb\xbf" + body(VALID), headers=JSON), 400, "malformed_request"),
    ("NaN", *POST, dict(data=b'{"name":"x","type":"echo","payload":{"v":NaN}}', headers=JSON), 400, "malformed_request"),
    ("Infinity", *POST, dict(data=b'{"name":"x","type":"echo","payload":{"v":-Infinity}}', headers=JSON), 400, "malformed_request"),
    ("1e999 overflows to inf", *POST, dict(data=b'{"name":"x","type":"echo","payload":{"v":1e999}}', headers=JSON), 400, "validation_error"),
    ("5000-digit integer", *POST, dict(data=b'{"name":"x","type":"echo","payload":{"v":1' + b"0" * 5000 + b"}}", headers=JSON), 400, "malformed_request"),
    ("lone surrogate in payload", *POST, dict(data=b'{"name":"x","type":"echo","payload":{"v":"\\ud800"}}', headers=JSON), 400, "malformed_request"),
    ("lone surrogate in a payload key", *POST, dict(data=b'{"name":"x","type":"echo","payload":{"\\udfff":1}}', headers=JSON), 400, "malformed_request"),
    ("lone surrogate in name", *POST, dict(data=b'{"name":"x\\ud800","type":"echo"}', headers=JSON), 400, "malformed_request"),
    ("nesting deeper than the parser goes", *POST, dict(data=nested(5000), headers=JSON), 400, "malformed_request"),
    ("nesting deeper than 32 levels", *POST, dict(data=nested(40), headers=JSON), 400, "validation_error"),
    ("array instead of object", *POST, dict(json=[VALID]), 400, "validation_error"),
    ("string instead of object", *POST, dict(json="echo"), 400, "validation_error"),
    ("null instead of object", *POST, dict(data=b"null", headers=JSON), 400, "validation_error"),
    # -- fields
    ("missing name", *POST, dict(json={"type": "echo"}), 400, "validation_error"),
    ("missing type", *POST, dict(json={"name": "x"}), 400, "validation_error"),
    ("name is a number", *POST, dict(json={"name": 42, "type": "echo"}), 400, "validation_error"),
    ("name is blank", *POST, dict(json={"name": "   ", "type": "echo"}), 400, "validation_error"),
    ("name has a NUL", *POST, dict(json={"name": "a\x00b", "type": "echo"}), 400, "validation_error"),
    ("name has a newline", *POST, dict(json={"name": "a\nb", "type": "echo"}), 400, "validation_error"),
    ("name of 10,000 characters", *POST, dict(json={"name": "n" * 10_000, "type": "echo"}), 400, "validation_error"),
    ("type is an object", *POST, dict(json={"name": "x", "type": {"t": "echo"}}), 400, "validation_error"),
    ("type is true", *POST, dict(json={"name": "x", "type": True}), 400, "validation_error"),
    ("unknown type", *POST, dict(json={"name": "x", "type": "rm -rf"}), 400, "unknown_job_type"),
    ("type of 100 characters", *POST, dict(json={"name": "x", "type": "t" * 100}), 400, "validation_error"),
    ("payload is an array", *POST, dict(json={"name": "x", "type": "echo", "payload": [1]}), 400, "validation_error"),
    ("payload is a string", *POST, dict(json={"name": "x", "type": "echo", "payload": "{}"}), 400, "validation_error"),
    ("payload field of the wrong type", *POST, dict(json={"name": "x", "type": "sleep", "payload": {"seconds": "soon"}}), 400, "validation_error"),
    ("payload field out of range", *POST, dict(json={"name": "x", "type": "sleep", "payload": {"seconds": -1}}), 400, "validation_error"),
    ("payload missing a required field", *POST, dict(json={"name": "x", "type": "sleep", "payload": {}}), 400, "validation_error"),
    ("payload over its limit", *POST, dict(json={"name": "x", "type": "echo", "payload": {"v": "x" * (LIMIT + 10)}}), 413, "payload_too_large"),
    ("body of 1 MB", *POST, dict(json={"name": "x", "type": "echo", "payload": {"v": "x" * 1_000_000}}), 413, "payload_too_large"),
    ("unknown top-level field", *POST, dict(json={"name": "x", "type": "echo", "paylod": {"a": 1}}), 400, "validation_error"),
    ("checksum items that are numbers", *POST, dict(json={"name": "x", "type": "checksum", "payload": {"items": [1, 2]}}), 400, "validation_error"),
    # -- Idempotency-Key
    ("empty Idempotency-Key", *POST, dict(json=VALID, headers={"Idempotency-Key": ""}), 400, "invalid_idempotency_key"),
    ("Idempotency-Key of 256 characters", *POST, dict(json=VALID, headers={"Idempotency-Key": "k" * 256}), 400, "invalid_idempotency_key"),
    ("Idempotency-Key with a space", *POST, dict(json=VALID, headers={"Idempotency-Key": "a b"}), 400, "invalid_idempotency_key"),
    ("Idempotency-Key not ASCII", *POST, dict(json=VALID, headers={"Idempotency-Key": "clé".encode("latin-1")}), 400, "invalid_idempotency_key"),
    # -- ids
    ("id that is not a UUID", "GET", "/jobs/not-a-uuid", {}, 404, "job_not_found"),
    ("id in upper case", "GET", f"/jobs/{str(uuid.uuid4()).upper()}", {}, 404, "job_not_found"),
    ("id of 1,000 characters", "GET", "/jobs/" + "a" * 1000, {}, 404, "job_not_found"),
    ("id with a percent-encoded NUL", "GET", "/jobs/%00", {}, 404, "job_not_found"),
    ("id with a lone surrogate, percent-encoded", "GET", "/jobs/%ED%A0%80", {}, 404, "job_not_found"),
    ("id that does not exist", "GET", f"/jobs/{uuid.uuid4()}", {}, 404, "job_not_found"),
    ("cancel of a malformed id", "POST", "/jobs/../cancel", {}, 404, "job_not_found"),
    ("cancel of an unknown id", "POST", f"/jobs/{uuid.uuid4()}/cancel", {}, 404, "job_not_found"),
    ("retry of a malformed id", "POST", "/jobs/x' OR 1=1 --/retry", {}, 404, "job_not_found"),
    # -- listing
    ("negative limit", "GET", "/jobs?limit=-1", {}, 400, "validation_error"),
    ("zero limit", "GET", "/jobs?limit=0", {}, 400, "validation_error"),
    ("limit over 100", "GET", "/jobs?limit=101", {}, 400, "validation_error"),
    ("huge limit", "GET", "/jobs?limit=" + "9" * 40, {}, 400, "validation_error"),
    ("limit not a number", "GET", "/jobs?limit=ten", {}, 400, "validation_error"),
    ("limit as a float", "GET", "/jobs?limit=1.5", {}, 400, "validation_error"),
    ("unknown status", "GET", "/jobs?status=DONE", {}, 400, "validation_error"),
    ("type filter too long", "GET", "/jobs?type=" + "t" * 65, {}, 400, "validation_error"),
    ("garbage cursor", "GET", "/jobs?cursor=not-a-cursor", {}, 400, "invalid_cursor"),
    ("cursor with a NUL", "GET", "/jobs?cursor=a%00b", {}, 400, "validation_error"),
    ("cursor of 3,000 characters", "GET", "/jobs?cursor=" + "c" * 3000, {}, 400, "validation_error"),
    ("ids that are not UUIDs", "GET", "/jobs?ids=1,2,3", {}, 400, "validation_error"),
    ("ids: only commas", "GET", "/jobs?ids=,,,", {}, 400, "validation_error"),
    ("ids: 101 of them", "GET", "/jobs?ids=" + ",".join(str(uuid.uuid4()) for _ in range(101)), {}, 400, "validation_error"),
    # -- methods and content negotiation
    ("DELETE /jobs", "DELETE", "/jobs", {}, 405, "method_not_allowed"),
    ("PUT a job", "PUT", f"/jobs/{uuid.uuid4()}", dict(json=VALID), 405, "method_not_allowed"),
    ("GET a cancel", "GET", f"/jobs/{uuid.uuid4()}/cancel", {}, 405, "method_not_allowed"),
    ("Accept: XML only", "GET", "/jobs", dict(headers={"Accept": "application/xml"}), 406, "not_acceptable"),
    ("unknown URL", "GET", "/no/such/thing", dict(headers={"Accept": "application/json"}), 404, "not_found"),
    # -- staff only
    ("dead letters as a user", "GET", "/dead-letters", {}, 403, "permission_denied"),
    ("redrive as a user", "POST", "/dead-letters/redrive", {}, 403, "permission_denied"),
    ("requeue as a user", "POST", f"/jobs/{uuid.uuid4()}/requeue", {}, 403, "permission_denied"),
]

AUTH_CASES = [
    # (case id, session auth, extra headers, expected status, expected code)
    ("no credentials", None, {}, 401, "not_authenticated"),
    ("wrong password", ("demo", "wrong"), {}, 401, "authentication_failed"),
    ("unknown user", ("nobody", "nobody"), {}, 401, "authentication_failed"),
    ("Basic header that is not base64", None, {"Authorization": "Basic !!!"}, 401, "authentication_failed"),
    ("Basic header without a colon", None, {"Authorization": "Basic ZGVtbw=="}, 401, "authentication_failed"),
    ("unknown token", None, {"Authorization": "Token " + "0" * 40}, 401, "authentication_failed"),
    ("token header with spaces", None, {"Authorization": "Token a b"}, 401, "authentication_failed"),
    ("unsupported scheme", None, {"Authorization": "Bearer abc"}, 401, "not_authenticated"),
]


@pytest.fixture(scope="module")
def stack(make_stack):
    return make_stack(workers=1, DJANGO_DEBUG=0)


@pytest.fixture(scope="module")
def tried():
    """Every bad input sent, for the final check and the printed count."""
    return []


def assert_problem(response, status: int, code: str):
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.headers["Content-Type"]
    problem = response.json()
    assert problem["status"] == status and problem["code"] == code, problem
    assert problem["title"] and problem["detail"] and problem["type"] == "about:blank"
    return problem


@pytest.mark.parametrize("case,method,path,kwargs,status,code", CASES, ids=[c[0] for c in CASES])
def test_bad_request_gets_a_problem(api, tried, case, method, path, kwargs, status, code):
    tried.append(case)
    # Raw paths: requests would otherwise normalise "/jobs/../cancel" and re-encode "%00".
    session = api.session
    request = requests.Request(method, api.url(path), auth=session.auth, **kwargs)
    prepared = session.prepare_request(request)
    prepared.url = api.url(path)
    response = session.send(prepared, timeout=30)
    problem = assert_problem(response, status, code)
    if code == "validation_error":
        assert problem["errors"], problem


@pytest.mark.parametrize("case,auth,headers,status,code", AUTH_CASES, ids=[c[0] for c in AUTH_CASES])
def test_bad_credentials_get_401(api, tried, case, auth, headers, status, code):
    tried.append(case)
    for method in ("get", "post"):
        response = getattr(requests, method)(api.url("/jobs"), auth=auth, headers=headers, json=VALID, timeout=30)
        assert_problem(response, status, code)
        assert response.headers.get("WWW-Authenticate")


def test_validation_lists_every_bad_field_at_once(api, tried):
    tried.append("three bad fields")
    problem = assert_problem(api.post("/jobs", json={"name": "", "type": 3, "payload": []}), 400, "validation_error")
    assert set(problem["errors"]) == {"name", "type", "payload"}
    tried.append("bad payload field names its path")
    problem = assert_problem(api.post("/jobs", json={"name": "x", "type": "sleep", "payload": {"seconds": 10_000}}),
                             400, "validation_error")
    assert list(problem["errors"]) == ["payload.seconds"]


def test_a_cursor_is_bound_to_its_filters_and_cannot_be_tampered_with(api, tried):
    for i in range(3):
        api.submit("echo", {"i": i}, name=f"cursor-{i}")
    page = api.get("/jobs", params={"limit": 1}).json()
    assert page["next_cursor"]
    tried.append("cursor used with other filters")
    assert_problem(api.get("/jobs", params={"limit": 1, "status": "QUEUED", "cursor": page["next_cursor"]}), 400, "invalid_cursor")
    tried.append("tampered cursor")
    cursor = page["next_cursor"]
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    assert_problem(api.get("/jobs", params={"limit": 1, "cursor": tampered}), 400, "invalid_cursor")


def test_another_users_job_is_not_found(api, staff_api, tried):
    theirs = staff_api.submit("echo", {"secret": 1})
    for method, path in (("get", f"/jobs/{theirs['id']}"), ("post", f"/jobs/{theirs['id']}/cancel"),
                         ("post", f"/jobs/{theirs['id']}/retry")):
        tried.append(f"{method} another user's job")
        assert_problem(getattr(api, method)(path), 404, "job_not_found")
    listed = api.get("/jobs", params={"ids": theirs["id"]}).json()["results"]
    assert listed == []


def test_unicode_that_is_valid_is_accepted_and_comes_back_intact(api):
    name = "ジョブ ✓ émoji 🚀 \u200b"
    payload = {"text": "naïve café ☕ 𝄞", "ключ": ["€", "\u00a0"]}
    job = api.wait(api.submit("echo", payload, name=name)["id"])
    assert job["status"] == "COMPLETED"
    assert job["name"] == name and job["result"] == payload


class PacedBody(io.RawIOBase):
    """A body handed over in 64 KB blocks 20 ms apart: a client on a ~3 MB/s link, still sending after an early answer."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def readable(self):
        return True

    def read(self, size=-1):
        if self.pos:
            time.sleep(0.02)
        chunk = self.data[self.pos:self.pos + 64 * 1024]
        self.pos += len(chunk)
        return chunk


def post_paced(api, data: bytes):
    """POST /jobs through http.client, which stops at a send error: a reset means no answer at all."""
    url = urlsplit(api.base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.blocksize = 64 * 1024
    token = base64.b64encode(":".join(api.basic).encode()).decode()
    try:
        conn.request("POST", "/jobs", body=PacedBody(data), headers={
            "Content-Type": "application/json", "Content-Length": str(len(data)), "Authorization": f"Basic {token}",
        })
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), json.loads(response.read())
    finally:
        conn.close()


# Far over the byte limit, whichever field makes the body big: 2 MB is over an item job's
# (inline items + payload limit + 16 KB), refused by Content-Length unread; 100 KB without
# items is over a payload job's (payload limit + 16 KB), refused once read. A long name in
# a body under the limit is a 400 naming `name` ("name of 10,000 characters" above).
FAR_OVER_THE_LIMIT = {
    "2 MB payload": body({"name": "big", "type": "echo", "payload": {"v": "x" * 2_000_000}}),
    "100 KB name": body({"name": "n" * 100_000, "type": "echo", "payload": {}}),
}


@pytest.mark.parametrize("case", FAR_OVER_THE_LIMIT)
def test_a_body_far_over_the_byte_limit_always_gets_the_413_and_never_a_reset(api, tried, case):
    data = FAR_OVER_THE_LIMIT[case]
    for attempt in range(5):
        tried.append(f"{case}, paced, {attempt}")
        status, content_type, problem = post_paced(api, data)
        assert (status, problem["code"]) == (413, "payload_too_large"), (status, problem)
        assert content_type.startswith("application/problem+json"), content_type
        tried.append(f"{case}, at once, {attempt}")
        response = requests.post(api.url("/jobs"), data=data, headers=JSON, auth=api.basic, timeout=30)
        assert_problem(response, 413, "payload_too_large")


def test_after_all_of_it_the_server_and_the_worker_still_work(api, stack, tried):
    """Run last: nothing above broke the web server or the worker, and no 5xx was logged."""
    print(f"\nbad inputs tried: {len(tried)}")
    assert len(tried) >= 30
    job = api.wait(api.submit("countrun", {"seconds": 0.1})["id"])
    assert job["status"] == "COMPLETED"
    assert all(proc.poll() is None for proc in stack.processes.values())
    web_log = (stack.log_dir / "web.log").read_text(errors="replace")
    assert "Internal Server Error" not in web_log and " 500 " not in web_log


def test_with_the_job_store_down_every_call_is_a_503_problem(api, stack):
    """Run last: stops DynamoDB (moto keeps its data in memory: every job is gone afterwards)."""
    job = api.wait(api.submit("echo", {"before": True})["id"])
    stack.stop_process("moto-dynamodb")
    try:
        calls = {
            "submit": api.post("/jobs", json=VALID),
            "idempotent submit": api.post("/jobs", json=VALID, headers={"Idempotency-Key": f"k-{uuid.uuid4()}"}),
            "get": api.get(f"/jobs/{job['id']}"),
            "list": api.get("/jobs"),
            "list by ids": api.get("/jobs", params={"ids": job["id"]}),
            "cancel": api.post(f"/jobs/{job['id']}/cancel"),
            "retry": api.post(f"/jobs/{job['id']}/retry"),
        }
        for name, response in calls.items():
            assert response.status_code == 503, (name, response.status_code, response.text[:300])
            assert response.headers["Content-Type"].startswith("application/problem+json"), name
            assert response.json()["code"] == "store_unavailable", (name, response.json())
    finally:
        stack.start_moto("dynamodb")
    stack.manage("batchlab_bootstrap")
    after = api.wait(api.submit("countrun", {"seconds": 0})["id"])
    assert after["status"] == "COMPLETED"
