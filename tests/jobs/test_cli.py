"""The command-line client without a server: its subcommands, usage errors (3), an unreachable URL (4), credentials."""

import json

import pytest

from devstack.launcher import free_port
from jobs.cli import main
from jobs.cli.app import build_parser
from jobs.cli.client import Client
from jobs.cli.exit_codes import Exit, exit_for_status
from jobs.cli.output import time_text


def test_every_documented_subcommand_is_there():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"submit", "list", "show", "watch", "cancel", "retry", "types", "workers", "schedules"} <= set(sub.choices)


@pytest.mark.parametrize("argv", [[], ["submit"], ["submit", "echo", "{not json"], ["nope"], ["list", "--limit", "x"]])
def test_usage_errors_exit_3_and_send_nothing(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == Exit.USAGE == 3
    assert "usage: batchlab" in capsys.readouterr().err


def test_an_unreachable_server_exits_4(capsys):
    assert main(["--base-url", f"http://127.0.0.1:{free_port()}", "types"]) == Exit.UNREACHABLE == 4
    assert "cannot reach BatchLab" in capsys.readouterr().err


def test_options_after_the_subcommand_win(capsys):
    port = free_port()
    assert main(["--base-url", "http://127.0.0.1:1", "list", "--base-url", f"http://127.0.0.1:{port}"]) == 4
    assert f":{port}" in capsys.readouterr().err


def test_status_decides_the_exit_code():
    assert [exit_for_status(s) for s in ("COMPLETED", "FAILED", "CANCELED", "QUEUED")] == [0, 1, 2, 0]


def test_demo_credentials_only_for_a_local_url(monkeypatch):
    for name in ("BATCHLAB_URL", "BATCHLAB_TOKEN", "BATCHLAB_USER", "BATCHLAB_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert Client.from_options(base_url=None, token=None).user == "demo"
    remote = Client.from_options(base_url="https://batchlab.example.com", token=None)
    assert remote.user is None and remote._authorization() is None
    monkeypatch.setenv("BATCHLAB_TOKEN", "abc")
    assert Client.from_options(base_url="https://batchlab.example.com/", token=None)._authorization() == "Token abc"
    assert Client.from_options(base_url=None, token="xyz")._authorization() == "Token xyz"


# --- what the client sends, seen by a small recording HTTP server (no BatchLab behind it) -------------------

SCHEDULE = {"id": "5f0c7a52-9f5e-4a8e-9a70-0d1f5b1c2a33", "name": "n", "type": "checksum", "interval_seconds": 3600,
            "cron": None, "timezone": "UTC", "overlap": "skip", "paused": False, "next_run_at": "2030-01-01T00:00:00Z",
            "next_run_in_seconds": 3600, "last_run": None, "fired_count": 0, "skipped_count": 0, "missed_count": 0,
            "items": {"total": 25, "invalid": 0, "chunk_size": 10, "max_failed_ratio": 1.0, "on_invalid": "reject"},
            "runs": [], "success_rate": None}
ITEM_JOB = {"id": "0b7c1e52-9f5e-4a8e-9a70-0d1f5b1c2a33", "type": "checksum", "status": "SCHEDULED",
            "run_at": "2030-01-01T00:00:00Z", "items": {"total": 2, "chunks_total": 1}}


@pytest.fixture
def recorder():
    """`recorder.url`, `recorder.requests` ([(method, path, content type, body bytes)]); answers `recorder.answer`."""
    import http.server
    import threading
    import types

    state = types.SimpleNamespace(requests=[], answer=SCHEDULE)

    class Handler(http.server.BaseHTTPRequestHandler):
        def _record(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append((self.command, self.path, self.headers.get("Content-Type") or "", body))
            data = json.dumps(state.answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = _record

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()


def form_fields(content_type: str, body: bytes) -> dict:
    """The fields of a multipart/form-data body (the file's content under its field name)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    return {part.get_param("name", header="content-disposition"): part.get_content() for part in message.iter_parts()}


def test_schedules_create_with_an_items_file_uploads_it_with_the_schedules_fields(recorder, tmp_path, capsys):
    items = tmp_path / "items.ndjson"
    items.write_text('"a"\n"b"\n')
    assert main(["--base-url", recorder.url, "schedules", "create", "checksum", "--every", "3600", "--items-file", str(items),
                 "--chunk-size", "10", "--on-invalid", "skip", "--name", "n"]) == 0
    [(method, path, content_type, body)] = recorder.requests
    assert (method, path) == ("POST", "/schedules/files") and content_type.startswith("multipart/form-data")
    fields = form_fields(content_type, body)
    assert fields["file"] in ('"a"\n"b"\n', b'"a"\n"b"\n')
    assert {k: fields[k] for k in ("type", "name", "interval_seconds", "chunk_size", "on_invalid")} == {
        "type": "checksum", "name": "n", "interval_seconds": "3600", "chunk_size": "10", "on_invalid": "skip"}
    assert "25 items · chunks of 10" in capsys.readouterr().out


def test_schedules_create_with_inline_items_posts_them_as_json(recorder, capsys):
    assert main(["--base-url", recorder.url, "--json", "schedules", "create", "checksum", "--cron", "0 2 * * *",
                 "--items", '["a", "b"]', "--chunk-size", "1", "--max-failed-ratio", "0.5"]) == 0
    [(method, path, content_type, body)] = recorder.requests
    sent = json.loads(body)
    assert (method, path, content_type) == ("POST", "/schedules", "application/json")
    assert sent["items"] == ["a", "b"] and sent["chunk_size"] == 1 and sent["max_failed_ratio"] == 0.5
    assert json.loads(capsys.readouterr().out)["items"]["total"] == 25


def test_schedules_edit_with_an_items_file_puts_the_new_items_and_patches_only_other_fields(recorder, tmp_path, capsys):
    items = tmp_path / "new.ndjson"
    items.write_text('"x"\n')
    sid = SCHEDULE["id"]
    assert main(["--base-url", recorder.url, "schedules", "edit", sid, "--items-file", str(items), "--chunk-size", "5"]) == 0
    assert [(m, p) for m, p, _, _ in recorder.requests] == [("PUT", f"/schedules/{sid}/items")]
    assert form_fields(recorder.requests[0][2], recorder.requests[0][3])["chunk_size"] == "5"
    recorder.requests.clear()
    assert main(["--base-url", recorder.url, "schedules", "edit", sid, "--every", "600", "--items-file", str(items)]) == 0
    assert [(m, p) for m, p, _, _ in recorder.requests] == [("PATCH", f"/schedules/{sid}"), ("PUT", f"/schedules/{sid}/items")]
    recorder.requests.clear()
    assert main(["--base-url", recorder.url, "schedules", "edit", sid, "echo", "--no-items"]) == 0
    assert json.loads(recorder.requests[0][3]) == {"type": "echo", "items": None}


def test_schedules_list_and_show_print_the_items_summary(recorder, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # a table folds its cells to the terminal's width
    recorder.answer = {"results": [SCHEDULE]}
    assert main(["--base-url", recorder.url, "schedules", "list"]) == 0
    assert "25 items · chunks of 10" in capsys.readouterr().out
    recorder.answer = SCHEDULE
    assert main(["--base-url", recorder.url, "schedules", "show", SCHEDULE["id"]]) == 0
    out = capsys.readouterr().out
    assert "items     25 items · chunks of 10; on_invalid=reject" in out


@pytest.mark.parametrize("argv", [
    ["schedules", "create", "checksum", "--every", "60", "--items", "[not json"],
    ["schedules", "create", "checksum", "--every", "60", "--items", '{"a": 1}'],
    ["schedules", "create", "checksum", "--every", "60", "--items-file", "/nonexistent/items.ndjson"],
    ["schedules", "create", "checksum", "--every", "60", "--items", "[]", "--items-file", "x.ndjson"],
    ["submit", "echo", "--delay", "60", "--run-at", "2030-01-01T00:00:00Z"],
])
def test_bad_item_and_delay_options_exit_3_and_send_nothing(recorder, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--base-url", recorder.url, *argv])
    assert exc.value.code == Exit.USAGE
    assert recorder.requests == []


def test_submit_an_items_file_later_sends_the_delay_and_prints_when_it_runs(recorder, tmp_path, capsys):
    items = tmp_path / "items.ndjson"
    items.write_text('"a"\n"b"\n')
    recorder.answer = ITEM_JOB
    assert main(["--base-url", recorder.url, "submit", "checksum", "--items-file", str(items), "--delay", "1800"]) == 0
    fields = form_fields(recorder.requests[0][2], recorder.requests[0][3])
    assert recorder.requests[0][1] == "/jobs/files" and fields["delay_seconds"] == "1800" and "run_at" not in fields
    assert "SCHEDULED due 2030-01-01T00:00:00Z" in capsys.readouterr().out
    recorder.requests.clear()
    assert main(["--base-url", recorder.url, "submit", "echo", "--run-at", "2030-01-01T00:00:00Z"]) == 0
    assert json.loads(recorder.requests[0][3])["run_at"] == "2030-01-01T00:00:00Z"


TYPE = {"name": "echo", "description": "d", "version": 2, "customized": True, "updated_at": None, "updated_by": "root",
        "running": 1, "history": [{"at": "2030-01-01T00:00:00Z", "actor": "root", "action": "edit",
                                   "changes": {"rate_limit": [None, "5/s"]}}],
        "settings": {"paused": True, "priority": "normal", "concurrency_limit": 2, "rate_limit": "5/s",
                     "key_concurrency_limit": None, "key_rate_limit": None},
        "defaults": {"paused": False, "priority": "normal", "concurrency_limit": None, "rate_limit": None,
                     "key_concurrency_limit": None, "key_rate_limit": None}}


def test_types_limits_patches_only_the_limits_given_and_none_removes_one(recorder, capsys):
    recorder.answer = TYPE
    assert main(["--base-url", recorder.url, "types", "limits", "echo", "--concurrency", "2", "--rate", "5/s",
                 "--key-concurrency", "none", "--priority", "high"]) == 0
    [(method, path, content_type, body)] = recorder.requests
    assert (method, path, content_type) == ("PATCH", "/job-types/echo", "application/json")
    assert json.loads(body) == {"concurrency_limit": 2, "rate_limit": "5/s", "key_concurrency_limit": None, "priority": "high"}
    out = capsys.readouterr().out
    assert "paused" in out and "at most 2 at once" in out and "running   1 of 2" in out and "rate_limit None -> 5/s" in out


@pytest.mark.parametrize("verb", ["pause", "resume"])
def test_types_pause_and_resume_post_to_the_type(recorder, verb):
    recorder.answer = TYPE
    assert main(["--base-url", recorder.url, "--json", "types", verb, "echo"]) == 0
    assert [(m, p) for m, p, _, _ in recorder.requests] == [("POST", f"/job-types/echo/{verb}")]


@pytest.mark.parametrize("argv", [["types", "limits", "echo"], ["types", "limits", "echo", "--concurrency", "two"],
                                  ["types", "pause"], ["types", "limits", "echo", "--priority", "urgent"]])
def test_types_usage_errors_exit_3_and_send_nothing(recorder, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--base-url", recorder.url, *argv])
    assert exc.value.code == Exit.USAGE and recorder.requests == []


def test_submit_sends_a_priority_and_a_key(recorder):
    recorder.answer = {"id": "j", "type": "echo", "status": "QUEUED"}
    assert main(["--base-url", recorder.url, "--json", "submit", "echo", "{}", "--priority", "high", "--key", "acme"]) == 0
    sent = json.loads(recorder.requests[0][3])
    assert sent["priority"] == "high" and sent["concurrency_key"] == "acme"


def job_summary(job_id: str, name: str, status: str, done: int) -> dict:
    return {"id": job_id, "url": f"/jobs/{job_id}", "name": name, "type": "sleep", "status": status, "owner": "demo",
            "attempts": 1, "max_attempts": 3, "progress": {"done": done, "total": 30}, "created_at": "2030-01-01T09:00:00.123456Z"}


JOBS = [job_summary("3f2a9c4e-1b7d-4e8a-9c21-5d6f7a8b9c0d", "sleep from cli", "PROCESSING", 12),
        job_summary("8d1e2f3a-4b5c-4d6e-8f70-a1b2c3d4e5f6", "nightly export of the sales", "COMPLETED", 30),
        job_summary("c0ffee00-1234-4567-89ab-cdef01234567", "x", "FAILED", 3)]


@pytest.mark.parametrize("columns", [80, 100])
def test_list_shows_each_job_on_one_line_with_the_short_id_the_page_shows(recorder, capsys, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    recorder.answer = {"results": JOBS, "next": None, "next_cursor": None}
    assert main(["--base-url", recorder.url, "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns, out
    for job in JOBS:
        [row] = [line for line in lines if job["id"][:8] in line]
        assert job["status"] in row and f"{job['progress']['done']}/30" in row and time_text(job["created_at"]) in row, out
        assert job["id"] not in out
    assert "--json" in lines[0], out  # the table's title says where the whole ids are
    assert main(["--base-url", recorder.url, "--json", "list"]) == 0
    assert [j["id"] for j in json.loads(capsys.readouterr().out)["results"]] == [j["id"] for j in JOBS]


def test_schedules_and_workers_tables_show_short_ids_too(recorder, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    recorder.answer = {"results": [SCHEDULE]}
    assert main(["--base-url", recorder.url, "schedules", "list"]) == 0
    out = capsys.readouterr().out
    assert SCHEDULE["id"][:8] in out and SCHEDULE["id"] not in out and "--json" in out
    recorder.answer = {"alive": 1, "stale": 0, "results": [
        {"id": "vm:4242", "alive": True, "host": "vm", "pid": 4242, "version": "0.1", "last_seen_at": "2030-01-01T09:00:00Z",
         "running": [j["id"] for j in JOBS[:2]], "jobs_done": 7, "last_receive_at": "2030-01-01T09:00:00Z"}]}
    assert main(["--base-url", recorder.url, "workers"]) == 0
    out = capsys.readouterr().out
    assert all(j["id"][:8] in out and j["id"] not in out for j in JOBS[:2]), out


@pytest.mark.parametrize("argv", [["show", "3f2a9c4e"], ["watch", "3f2a9c4e"], ["cancel", "3f2a9c4e"], ["retry", "3f2a9c4e-1b7d"],
                                  ["schedules", "show", "5f0c7a52"], ["schedules", "pause", "5f0c7a52"],
                                  ["schedules", "edit", "5f0c7a52", "--every", "60"]])
def test_a_short_id_is_a_usage_error_that_says_where_the_whole_id_is(recorder, capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(["--base-url", recorder.url, *argv])
    assert exc.value.code == Exit.USAGE and recorder.requests == []
    assert "not a whole id" in capsys.readouterr().err


def test_schedules_create_with_a_workflow_file_posts_the_definition_and_names_it(recorder, tmp_path, capsys):
    flow = tmp_path / "nightly.json"
    flow.write_text(json.dumps({"name": "nightly", "steps": {"a": {"type": "echo"}}}))
    recorder.answer = {**SCHEDULE, "type": None, "workflow": {"name": "nightly", "steps": 1}}
    assert main(["--base-url", recorder.url, "schedules", "create", "--workflow", str(flow), "--every", "3600"]) == 0
    [(method, path, content_type, body)] = recorder.requests
    sent = json.loads(body)
    assert (method, path) == ("POST", "/schedules") and "type" not in sent
    assert sent["workflow"]["steps"] == {"a": {"type": "echo"}} and sent["name"] == "workflow nightly every 3600 s"
    assert "(workflow nightly, 1 steps)" in capsys.readouterr().out


def test_schedules_create_refuses_a_type_and_a_workflow_together_and_neither(recorder, tmp_path, capsys):
    flow = tmp_path / "f.json"
    flow.write_text("{}")
    with pytest.raises(SystemExit) as both:
        main(["--base-url", recorder.url, "schedules", "create", "echo", "--workflow", str(flow), "--every", "60"])
    with pytest.raises(SystemExit) as neither:
        main(["--base-url", recorder.url, "schedules", "create", "--every", "60"])
    assert both.value.code == neither.value.code != 0 and recorder.requests == []
    err = capsys.readouterr().err
    assert "give no job type" in err and "give a job type, or --workflow FILE" in err
