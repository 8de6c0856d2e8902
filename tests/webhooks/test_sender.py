"""One POST through pycurl against real servers on 127.0.0.1: redirects not followed, time bounded, the answer read bounded, a reset is no answer."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobs.services.webhooks import addresses, sender


class Server:
    """An HTTP server on 127.0.0.1 that answers every POST with `status`, `headers` and `body`, after `delay` seconds."""

    def __init__(self, *, status=200, headers=None, body=b"ok", delay=0.0):
        self.hits = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.hits.append(self.path)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the sender stopped reading

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"

    def stop(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def servers():
    made = []

    def make(**kw) -> Server:
        made.append(Server(**kw))
        return made[-1]

    yield make
    for s in made:
        s.stop()


def post(url: str, **kw) -> sender.SendResult:
    return sender.post(target=addresses.target_check(url), body='{"type":"ping"}', headers={"webhook-id": "evt_x"}, **kw)


def test_a_redirect_is_not_followed_and_is_a_failed_try(servers):
    elsewhere = servers()
    redirecting = servers(status=302, headers={"Location": elsewhere.url})
    result = post(redirecting.url)
    assert result.status_code == 302 and result.error == "redirect not followed" and not result.succeeded
    assert elsewhere.hits == []


def test_an_answer_later_than_the_timeout_is_no_answer(servers):
    slow = servers(delay=3.0)
    result = post(slow.url, timeout=0.5)
    assert result.status_code is None and result.error.startswith("timeout") and not result.succeeded


def test_only_the_first_bytes_of_a_large_answer_are_read(servers, settings):
    settings.BATCHLAB_WEBHOOK_MAX_RESPONSE_BYTES = 1024
    large = servers(body=b"x" * 200_000)
    result = post(large.url)
    assert result.succeeded and result.status_code == 200 and result.response == "x" * 1024


def test_a_connection_reset_before_any_answer_is_no_answer():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def reset_each():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
            conn.recv(65536)
            conn.close()

    threading.Thread(target=reset_each, daemon=True).start()
    try:
        result = post(f"http://127.0.0.1:{listener.getsockname()[1]}/hook")
    finally:
        listener.close()
    assert result.status_code is None and result.error and not result.succeeded
