"""NDJSON files and bulk submission on real processes: moto (S3 on the SQS server), two workers, gunicorn."""

import hashlib
import json
import time
import uuid

import pytest
import requests

from batchlab.awsmeter import totals_read
from tests.e2e.conftest import Api
from tests.e2e.helpers import wait_until


@pytest.fixture(scope="module")
def meter_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("meter")


@pytest.fixture(scope="module")
def stack(make_stack, meter_dir):
    return make_stack(workers=2, BATCHLAB_AWS_METER_DIR=meter_dir)


def requests_now(meter_dir) -> dict:
    time.sleep(1.5)  # every process writes its totals at most every 0.5 s
    return totals_read(meter_dir)["requests"]


@pytest.fixture(scope="module")
def api(stack) -> Api:
    # Token auth: Basic auth hashes the password (~0.2 CPU s) on each of the many polls here.
    api = Api(stack.web_url, "demo")
    api.session.auth = None
    api.session.headers["Authorization"] = f"Token {stack.manage('batchlab_token', 'demo').strip()}"
    return api


def upload(api, type, content: bytes, **fields):
    form = {"name": f"{type} file", "type": type, **{k: (json.dumps(v) if isinstance(v, dict) else str(v)) for k, v in fields.items()}}
    return api.post("/jobs/files", data=form, files={"file": ("items.ndjson", content, "application/x-ndjson")})


def test_a_10000_line_file_is_shared_by_both_workers_with_exact_counts_and_ordered_results(api):
    lines = [f"line {i} {uuid.uuid4().hex[:6]}" for i in range(10_000)]
    response = upload(api, "checksum", "".join(json.dumps(s) + "\n" for s in lines).encode())
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["items"]["total"] == 10_000 and job["items"]["chunks_total"] == 100 and job["items"]["from_file"]
    done = api.wait(job["id"], timeout=180)
    assert done["status"] == "COMPLETED", done
    assert (done["items"]["succeeded"], done["items"]["failed"], done["items"]["skipped"]) == (10_000, 0, 0)
    print(f"\n10,000 checksum items with 2 workers: {done['items']['items_per_second']} items/s")
    chunks = api.get(f"/jobs/{job['id']}/chunks?limit=1000").json()["results"]
    assert len(chunks) == 100 and all(c["status"] == "DONE" and c["attempts"] == 1 for c in chunks)
    assert len({c["worker"] for c in chunks}) == 2  # both workers took part
    rows = [json.loads(line) for line in api.get(f"/jobs/{job['id']}/results").text.splitlines()]
    assert [r["line"] for r in rows] == list(range(1, 10_001))
    assert [r["result"]["sha256"] for r in rows] == [hashlib.sha256(s.encode()).hexdigest() for s in lines]


def test_bad_lines_are_skipped_as_failed_items_when_asked(api):
    response = upload(api, "transform", b'{"a": "1"}\n[1]\n{"a": "x"}\nnot json\n', payload={"ops": [{"op": "parse_number", "field": "a"}]},
                      on_invalid="skip")
    assert response.status_code == 201, response.text
    done = api.wait(response.json()["id"])
    assert done["status"] == "COMPLETED" and (done["items"]["succeeded"], done["items"]["failed"]) == (1, 3)
    failed = api.get(f"/jobs/{done['id']}/items?status=failed").json()["results"]
    assert [(r["line"], r["error"]["code"]) for r in failed] == [(2, "invalid_item"), (3, "permanent_error"), (4, "invalid_item")]


def _huge_upload(base: str, size: int) -> requests.Response:
    """A multipart upload of `size` bytes of NDJSON, generated on the fly (never held in memory)."""
    boundary = "batchlab-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nbig\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nchecksum\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.ndjson\"\r\n"
            "Content-Type: application/x-ndjson\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    block = b'"0123456789abcdef"\n' * 55_000  # ~1 MB

    class Body:
        """Iterable with a length: requests sends it with Content-Length, block by block."""

        def __len__(self):
            return len(head) + size + len(tail)

        def __iter__(self):
            yield head
            left = size
            while left > 0:
                yield block[:left]
                left -= len(block)
            yield tail

    return requests.post(base + "/jobs/files", data=Body(), auth=("demo", "demo"), timeout=120,
                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


@pytest.mark.parametrize(
    "case,content,type,status,code,detail",
    [
        ("malformed line", b'"a"\n{"b": \n"c"\n', "checksum", 400, "invalid_items", "line 2: Not valid JSON"),
        ("empty file", b"", "checksum", 400, "empty_file", "no lines"),
        ("1,000,001 lines", b'"x"\n' * 1_000_001, "checksum", 413, "too_many_lines", "more than 1000000 lines"),
        ("not an object", b'{"a": "1"}\n[1, 2]\n', "transform", 400, "invalid_items", "line 2: Must be a JSON object"),
        ("101 MB", None, "checksum", 413, "file_too_large", "at most 104857600 bytes"),
    ],
    ids=["malformed-line", "empty-file", "1000001-lines", "not-an-object", "101-MB"],
)
def test_a_bad_file_is_refused_whole_with_a_problem_naming_the_cause(api, stack, case, content, type, status, code, detail):
    before = api.get("/jobs?limit=100").json()["results"]
    if content is None:
        response = _huge_upload(stack.web_url, 101 * 1024 * 1024)
    else:
        response = upload(api, type, content, payload={"ops": [{"op": "upper", "field": "a"}]} if type == "transform" else {})
    assert response.status_code == status, response.text[:500]
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert detail in json.dumps(problem), problem
    assert api.get("/jobs?limit=100").json()["results"] == before  # nothing half-accepted


def test_many_bad_lines_list_the_first_twenty_then_a_count(api):
    content = b"".join(b'"ok"\n' if i % 2 else b"{oops\n" for i in range(100))
    problem = upload(api, "checksum", content).json()
    assert problem["code"] == "invalid_items" and problem["bad_lines"] == 50
    assert problem["errors"]["items"][0].startswith("line 1: ") and problem["errors"]["items"][19].startswith("line 39: ")
    assert problem["errors"]["items"][20] == "... and 30 more bad lines"


def test_bulk_of_100_jobs_writes_25_per_batch_and_sends_10_per_message_batch(api, meter_dir):
    before = requests_now(meter_dir)
    jobs = [{"name": f"bulk {i}", "type": "echo", "payload": {"i": i}} for i in range(100)]
    response = api.post("/jobs/bulk", json={"jobs": jobs})
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(100)) and len({r["id"] for r in results}) == 100
    ids = ",".join(r["id"] for r in results)
    final = wait_until(lambda: (lambda page: page if all(j["status"] == "COMPLETED" for j in page) else None)(
        api.get(f"/jobs?ids={ids}").json()["results"]), timeout=120, interval=1, what="100 bulk jobs COMPLETED")
    assert [j["id"] for j in final] == [r["id"] for r in results]
    assert [api.get(f"/jobs/{r['id']}").json()["result"] for r in results[:3]] == [{"i": 0}, {"i": 1}, {"i": 2}]
    after = requests_now(meter_dir)
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
    assert delta.get("dynamodb.BatchWriteItem") == 4
    assert delta.get("sqs.SendMessageBatch") == 10
    assert delta.get("sqs.SendMessage", 0) == 0
    print(f"\nAWS calls for a bulk of 100 jobs, run to completion: {delta}")


def test_bulk_errors_are_listed_by_index_and_nothing_is_written(api):
    before = api.get("/jobs?limit=100").json()["results"]
    response = api.post("/jobs/bulk", json={"jobs": [
        {"name": "ok", "type": "echo"}, {"name": "x", "type": "nope"}, {"type": "echo"}, {"name": "f", "type": "flaky", "payload": {}}]})
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert set(errors) == {"jobs[1].type", "jobs[2].name", "jobs[3].payload.failures"}
    assert api.get("/jobs?limit=100").json()["results"] == before
