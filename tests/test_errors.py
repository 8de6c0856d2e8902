"""Error answers: refused bodies are drained before the answer (bounded), and every error is problem+json."""

import io

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from batchlab import parsers
from batchlab.parsers import drain_unread_body


class CountingStream(io.BytesIO):
    """A request body that records how much of it was read."""

    def read(self, size=-1):
        chunk = super().read(size)
        self.consumed = getattr(self, "consumed", 0) + len(chunk)
        return chunk


def request_with_body(size: int, *, content_length: int | None = None, terminated: bool = False):
    """A POST whose body has `size` bytes, declared as `content_length` (None: no Content-Length)."""
    stream = CountingStream(b"x" * size)
    environ = {"wsgi.input": stream, "CONTENT_TYPE": "application/json"}
    if content_length is not None:
        environ["CONTENT_LENGTH"] = str(content_length)
    if terminated:
        environ["wsgi.input_terminated"] = True
    return RequestFactory().generic("POST", "/jobs", **environ), stream


def test_drain_reads_the_whole_unread_body_in_chunks():
    request, stream = request_with_body(2_000_000, content_length=2_000_000)
    assert drain_unread_body(request) == 2_000_000
    assert stream.consumed == 2_000_000


def test_drain_without_content_length_reads_nothing_unless_the_server_ends_the_stream():
    request, stream = request_with_body(1000)
    assert drain_unread_body(request) == 0


def test_drain_reads_a_server_terminated_stream_without_content_length():
    # gunicorn's wsgi.input ends where the body ends, chunked bodies included.
    request, stream = request_with_body(300_000, terminated=True)
    assert drain_unread_body(request) == 300_000


def test_drain_leaves_an_absurdly_large_body_alone():
    request, stream = request_with_body(10, content_length=parsers.DRAIN_MAX_BYTES + 1, terminated=True)
    assert drain_unread_body(request) == 0
    assert getattr(stream, "consumed", 0) == 0


def test_drain_stops_at_its_byte_cap(monkeypatch):
    monkeypatch.setattr(parsers, "DRAIN_MAX_BYTES", 200_000)
    request, stream = request_with_body(1_000_000, terminated=True)
    assert 200_000 <= drain_unread_body(request) < 1_000_000


@pytest.mark.django_db
def test_an_error_answered_before_the_body_is_read_drains_it_first(django_user_model, monkeypatch):
    drained = []
    monkeypatch.setattr("batchlab.errors.drain_unread_body", lambda request: drained.append(request.path))
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("alice"))
    response = client.post("/jobs", b"x" * 200_000, content_type="text/plain")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"
    assert drained == ["/jobs"]


@pytest.mark.django_db
def test_a_body_over_the_byte_limit_is_refused_unparsed_as_413_problem_json(django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("alice"))
    # Over what even a body with inline items may have (items + payload + 16 KB): refused by its length.
    response = client.post("/jobs", b"{" + b" " * 2_000_000 + b"}", content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "payload_too_large" and body["title"] and "2000002 bytes" in body["detail"]
    # The drain read it all: nothing is left for the server to reset the connection over.
    assert response.wsgi_request.read() == b""


# Paths of the API (each is a prefix of jobs/urls.py, or the OpenAPI document's) and of the pages.
UNKNOWN_API_PATHS = ["/jobs/00000000-0000-0000-0000-000000000000/nothing", "/schedules/x/y/z", "/job-types/echo/nope",
                     "/api/nothing", "/webhooks/a/b/c/d/e"]


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_api_path_is_a_problem_json_404_even_with_debug_on(django_user_model, settings, debug):
    settings.DEBUG = debug  # `make run` has DJANGO_DEBUG on: Django would answer its HTML page of every URL pattern
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("alice"))
    for path in UNKNOWN_API_PATHS:
        for accept in ("*/*", "application/json", "text/html,application/xhtml+xml,*/*;q=0.8"):
            response = client.get(path, headers={"Accept": accept})
            assert response.status_code == 404, (path, accept)
            assert response["Content-Type"].startswith("application/problem+json"), (path, accept, response.content[:200])
            assert response.json()["code"] == "not_found"
        assert client.post(path, {"a": 1}, format="json").json()["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_page_is_a_plain_404_page_for_a_browser_and_problem_json_for_a_program(client, settings, debug):
    settings.DEBUG = debug
    page = client.get("/no/such/page", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    text = page.content.decode()
    assert "Page not found" in text and "There is no page at /no/such/page." in text
    assert "URLconf" not in text and "api/schema" not in text  # not Django's debug page listing the URL patterns
    program = client.get("/no/such/page")
    assert program.status_code == 404 and program.json()["code"] == "not_found"
