"""The HTTP client of `batchlab` (standard library only): base URL, token or Basic auth, problem+json errors."""

import base64
import http.client
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

DEFAULT_URL = "http://127.0.0.1:8000"
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class ApiError(Exception):
    """The API answered with an error status; `body` is its problem+json."""

    def __init__(self, status: int, body: dict):
        self.status, self.body = status, body
        super().__init__(f"HTTP {status} {body.get('code', '')}: {body.get('detail') or body.get('title') or ''}".strip())


class Unreachable(Exception):
    """No HTTP answer at all (connection refused or reset, timeout, unknown host)."""


@dataclass
class Client:
    base_url: str = DEFAULT_URL
    token: str | None = None
    user: str | None = None
    password: str | None = None
    timeout: float = 30

    @classmethod
    def from_options(cls, *, base_url: str | None, token: str | None) -> "Client":
        """Options win over BATCHLAB_URL / BATCHLAB_TOKEN / BATCHLAB_USER + BATCHLAB_PASSWORD.

        Without a token or a user, the embedded stack's demo account is used, and
        only for a base URL on this machine: no default credentials travel elsewhere.
        """
        url = (base_url or os.environ.get("BATCHLAB_URL") or DEFAULT_URL).rstrip("/")
        token = token or os.environ.get("BATCHLAB_TOKEN") or None
        user, password = os.environ.get("BATCHLAB_USER") or None, os.environ.get("BATCHLAB_PASSWORD")
        if not token and not user and urllib.parse.urlsplit(url).hostname in _LOCAL_HOSTS:
            user, password = "demo", "demo"
        return cls(base_url=url, token=token, user=user, password=password)

    def _authorization(self) -> str | None:
        if self.token:
            return f"Token {self.token}"
        if self.user:
            return "Basic " + base64.b64encode(f"{self.user}:{self.password or ''}".encode()).decode()
        return None

    def request(self, method: str, path: str, *, body: dict | None = None, params: dict | None = None,
                headers: dict | None = None, raw=None) -> dict | list:
        """One request; the decoded JSON body. Raises ApiError (4xx/5xx) or Unreachable.

        `raw`: an iterable of bytes sent as the body as it is read (the caller sets
        Content-Type and Content-Length), for uploads that must not be held in memory.
        """
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        url = self.base_url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else raw
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if self._authorization():
            request.add_header("Authorization", self._authorization())
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                payload = json.loads(raw or b"{}")
            except ValueError:
                payload = {"status": exc.code, "detail": exc.reason}
            raise ApiError(exc.code, payload if isinstance(payload, dict) else {"detail": payload}) from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise Unreachable(f"cannot reach BatchLab at {self.base_url}: {reason}") from None

    def get(self, path: str, **params) -> dict | list:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict | None = None, *, headers: dict | None = None) -> dict | list:
        return self.request("POST", path, body=body, headers=headers)
