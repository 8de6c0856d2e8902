"""moto's server with HTTP/1.1 keep-alive, as AWS's endpoints have: one TCP connection carries many requests.

devstack.moto_sqs and devstack.moto_serial serve through `main()` here. moto's
server is werkzeug's development server, which answers every request with
`Connection: close`: each AWS call of every client (botocore, kombu's curl) then
opened a new TCP connection, which real SQS and DynamoDB never make a client do.
werkzeug closes because, after the application, it throws away whatever is
readable on the socket (an unread body, but also a next request already sent).
This handler gives the application the body bounded by its Content-Length, reads
what the application left of it, and leaves the connection open; a request with
no length it can trust (chunked, or HTTP/1.0) is answered as before, and closed.
"""

import socket

from moto import server
from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.wsgi import LimitedStream

# An idle connection is closed after this long (a live client reconnects, as with AWS).
IDLE_SECONDS = 600


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler, keeping the connection open between requests."""

    timeout = IDLE_SECONDS
    _keep_alive = False

    def setup(self) -> None:
        super().setup()
        # werkzeug writes the head and the body of an answer separately: with Nagle's
        # algorithm on, the body waited for the client's delayed ACK (~40 ms a request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length", "0").strip()
        self._keep_alive = (
            self.request_version == "HTTP/1.1" and not self.close_connection and length.isdigit()
            and "chunked" not in self.headers.get("Transfer-Encoding", "").lower()
        )
        if not self._keep_alive:
            super().run_wsgi()
            return
        connection = self.rfile
        # werkzeug reads the body from self.rfile and, after the response, drains
        # self.rfile: bounded, neither can reach into the next request.
        body = self.rfile = LimitedStream(connection, int(length))
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection
            self._keep_alive = False
        if not self.close_connection:
            body.exhaust()  # the rest of a body the application did not read

    def send_header(self, keyword: str, value: str) -> None:
        if self._keep_alive and keyword.lower() == "connection" and value.strip().lower() == "close":
            return  # werkzeug's unconditional close (a close the client asked for is kept: see run_wsgi)
        super().send_header(keyword, value)


def main() -> None:
    """moto.server's command line (-H HOST -p PORT), served with keep-alive."""
    server.MotoRequestHandler = KeepAliveRequestHandler  # moto.server.main passes this name to run_simple
    server.main()
