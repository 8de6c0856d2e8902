"""A real HTTP receiver on 127.0.0.1 for the webhook tests: records every request, answers as told (status, delay)."""

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict
    body: str
    at: float


@dataclass
class Receiver:
    """`answers`: statuses to give in turn (the last one repeats); `delay`: seconds to wait before answering."""

    answers: list = field(default_factory=lambda: [200])
    delay: float = 0.0
    requests: list = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    _port: int = 0

    def start(self, port: int = 0) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()))
                if receiver.delay:
                    time.sleep(receiver.delay)
                code = receiver.answers[min(len(receiver.requests) - 1, len(receiver.answers) - 1)]
                payload = f"answer {code}".encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the sender gave up (its timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self._port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/hook"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait_for(self, count: int, *, timeout: float = 60) -> list:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.requests)} requests received, {count} awaited")
            time.sleep(0.02)
        return self.requests
