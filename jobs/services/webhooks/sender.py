"""One HTTP POST of a delivery, through pycurl: pinned to the checked address, no redirects, bounded in time and in what it reads.

The connection goes to the address `addresses.target_check` just approved
(CURLOPT_RESOLVE pins host:port to it, so curl resolves nothing itself), with
TLS verified against the URL's host name. Redirects are not followed (a 3xx is
a failed try), proxies from the environment are not used, only http and https
are spoken, and at most BATCHLAB_WEBHOOK_MAX_RESPONSE_BYTES of the answer are
read before the transfer is cut short.
"""

import io
import time
from dataclasses import dataclass

import pycurl
from django.conf import settings

from jobs.services.webhooks.addresses import Target

USER_AGENT = "BatchLab-Webhooks/1"


@dataclass(frozen=True)
class SendResult:
    """What one try saw: the status (None: no HTTP answer), how long it took, an error, the answer's first bytes."""

    status_code: int | None
    latency_ms: int
    error: str | None
    response: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and self.error is None


class _Bounded:
    """A write callback that keeps the first `limit` bytes and then stops the transfer."""

    def __init__(self, limit: int):
        self.limit, self.buffer, self.cut = limit, io.BytesIO(), False

    def write(self, chunk: bytes):
        room = self.limit - self.buffer.tell()
        self.buffer.write(chunk[:max(room, 0)])
        if len(chunk) > room:
            self.cut = True
            return 0  # curl stops with CURLE_WRITE_ERROR: we have read all we keep
        return None


def post(*, target: Target, body: str, headers: dict, timeout: float | None = None) -> SendResult:
    """POST `body` to the checked target; never raises for the receiver's faults (they are the result)."""
    timeout = settings.BATCHLAB_WEBHOOK_TIMEOUT_SECONDS if timeout is None else timeout
    sink = _Bounded(settings.BATCHLAB_WEBHOOK_MAX_RESPONSE_BYTES)
    curl = pycurl.Curl()
    host = target.host if ":" not in target.host else f"[{target.host}]"
    address = target.address if ":" not in target.address else f"[{target.address}]"
    started = time.monotonic()
    error = None
    try:
        curl.setopt(pycurl.URL, target.url)
        curl.setopt(pycurl.RESOLVE, [f"{host}:{target.port}:{address}"])
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.FOLLOWLOCATION, 0)
        curl.setopt(pycurl.PROXY, "")
        curl.setopt(pycurl.NOPROXY, "*")
        curl.setopt(pycurl.NOSIGNAL, 1)  # timeouts without SIGALRM: safe in threads
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, int(min(timeout, 5) * 1000))
        curl.setopt(pycurl.TIMEOUT_MS, int(timeout * 1000))
        curl.setopt(pycurl.POST, 1)
        curl.setopt(pycurl.POSTFIELDS, body.encode("utf-8"))
        curl.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in
                                        {"Content-Type": "application/json", "User-Agent": USER_AGENT, "Expect": "", **headers}.items()])
        curl.setopt(pycurl.WRITEFUNCTION, sink.write)
        try:
            curl.perform()
        except pycurl.error as exc:
            if not (sink.cut and exc.args and exc.args[0] == pycurl.E_WRITE_ERROR):
                error = _describe(exc)
        status = int(curl.getinfo(pycurl.RESPONSE_CODE)) or None
    finally:
        curl.close()
    latency_ms = int((time.monotonic() - started) * 1000)
    if status is not None and error is not None and error.startswith("timeout"):
        status = None  # an answer that did not finish within the limit is no answer
    text = sink.buffer.getvalue().decode("utf-8", "replace")
    if status is not None and 300 <= status < 400 and error is None:
        error = "redirect not followed"
    return SendResult(status_code=status, latency_ms=latency_ms, error=error, response=text)


def _describe(exc: pycurl.error) -> str:
    code = exc.args[0] if exc.args else None
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return f"timeout: {message}"
    if code == pycurl.E_COULDNT_CONNECT:
        return f"connection refused: {message}"
    return f"curl error {code}: {message}"
