"""The embedded moto servers keep a connection open between requests (HTTP/1.1 keep-alive), as AWS does."""

import http.client
import json
import socket
import subprocess
import sys

import pytest

from devstack.launcher import ROOT, free_port, wait_for_port

AUTH = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
REQUESTS = {  # one cheap call per server, as its clients send it
    "devstack.moto_serial": ("dynamodb", {"X-Amz-Target": "DynamoDB_20120810.ListTables",
                                          "Content-Type": "application/x-amz-json-1.0"}, b"{}"),
    "devstack.moto_sqs": ("sqs", {"Content-Type": "application/x-www-form-urlencoded"}, b"Action=ListQueues&Version=2012-11-05"),
}


@pytest.fixture(scope="module", params=sorted(REQUESTS))
def moto(request):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", request.param, "-H", "127.0.0.1", "-p", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, timeout=60, proc=proc, name=request.param)
        yield port, REQUESTS[request.param]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _headers(service: str, extra: dict, body: bytes) -> dict:
    return {"Authorization": AUTH.format(service=service), "Content-Length": str(len(body)), **extra}


def _raw_request(service: str, extra: dict, body: bytes, port: int) -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in _headers(service, extra, body).items())
    return f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}\r\n".encode() + body


class _Stream:
    """One socket file that http.client reads several responses from (its close, after each answer, is ignored)."""

    def __init__(self, stream):
        self.stream = stream

    def makefile(self, *args, **kwargs):
        return self

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def close(self):
        pass


def test_a_second_request_reuses_the_connection(moto):
    port, (service, extra, body) = moto
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/", body=body, headers=_headers(service, extra, body))
    first = conn.getresponse()
    first.read()
    sock, local = conn.sock, conn.sock.getsockname()
    conn.request("POST", "/", body=body, headers=_headers(service, extra, body))
    second = conn.getresponse()
    second.read()
    assert first.status == second.status == 200
    assert first.getheader("Connection", "").lower() != "close"
    assert conn.sock is sock and conn.sock.getsockname() == local  # the same TCP connection
    conn.close()


def test_a_request_sent_right_behind_another_is_answered_too(moto):
    """Both requests in one write: the server must not take the second for the rest of the first."""
    port, (service, extra, body) = moto
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_raw_request(service, extra, body, port) * 2)
        stream = sock.makefile("rb")
        answers = []
        for _ in range(2):
            response = http.client.HTTPResponse(_Stream(stream))
            response.begin()
            answers.append((response.status, response.read()))
    assert [status for status, _ in answers] == [200, 200]
    assert answers[0][1] and answers[0][1][:40] == answers[1][1][:40]  # the same answer (request ids differ)


def test_a_client_that_asks_to_close_is_closed(moto):
    port, (service, extra, body) = moto
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/", body=body, headers={**_headers(service, extra, body), "Connection": "close"})
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Connection", "").lower() == "close"
    json.dumps(response.read().decode())  # the whole answer arrived before the close
    conn.close()
