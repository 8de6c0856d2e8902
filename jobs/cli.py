"""`batchlab`: a small command-line client for the HTTP API (standard library only).

    batchlab submit echo '{"message": "hi"}' --wait
    batchlab get JOB_ID
    batchlab list --status FAILED
    batchlab cancel JOB_ID / batchlab retry JOB_ID
    batchlab types

Settings: BATCHLAB_URL (default http://127.0.0.1:8000), and BATCHLAB_TOKEN
(an API token: `manage.py batchlab_token USER`) or BATCHLAB_USER/BATCHLAB_PASSWORD.
"""

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

FINAL = {"COMPLETED", "FAILED", "CANCELED"}


class ApiError(Exception):
    def __init__(self, status: int, body: dict):
        self.status, self.body = status, body
        detail = body.get("detail") or body
        super().__init__(f"HTTP {status} {body.get('code', '')}: {detail}")


def _request(method: str, path: str, body: dict | None = None, headers: dict | None = None) -> dict:
    url = os.environ.get("BATCHLAB_URL", "http://127.0.0.1:8000").rstrip("/") + path
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    token = os.environ.get("BATCHLAB_TOKEN")
    if token:
        request.add_header("Authorization", f"Token {token}")
    else:
        user, password = os.environ.get("BATCHLAB_USER", "demo"), os.environ.get("BATCHLAB_PASSWORD", "demo")
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read() or b"{}")
        except ValueError:
            payload = {"detail": exc.reason}
        raise ApiError(exc.code, payload) from None


def _wait(job_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while True:
        job = _request("GET", f"/jobs/{job_id}")
        line = f"{job['status']} {job['progress']['done']}/{job['progress']['total']}" if job["progress"]["total"] else job["status"]
        if line != last:
            print(f"  {job_id} {line}", file=sys.stderr)
            last = line
        if job["status"] in FINAL or time.monotonic() > deadline:
            return job
        time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="batchlab", description="BatchLab command-line client.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("submit", help="submit a job")
    p.add_argument("type")
    p.add_argument("payload", nargs="?", default="{}", help="JSON object")
    p.add_argument("--name", default=None)
    p.add_argument("--idempotency-key", default=None)
    p.add_argument("--wait", action="store_true", help="wait until the job is final")
    p.add_argument("--timeout", type=float, default=600)
    for name in ("get", "cancel", "retry", "wait"):
        sub.add_parser(name, help=f"{name} a job").add_argument("job_id")
    p = sub.add_parser("list", help="list jobs, newest first")
    p.add_argument("--status")
    p.add_argument("--type")
    p.add_argument("--limit", type=int, default=20)
    sub.add_parser("types", help="list the job types")
    args = parser.parse_args(argv)
    try:
        if args.command == "submit":
            try:
                payload = json.loads(args.payload)
            except ValueError as exc:
                parser.error(f"payload is not JSON: {exc}")
            headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
            job = _request("POST", "/jobs", {"name": args.name or f"{args.type} from cli", "type": args.type, "payload": payload}, headers)
            if args.wait:
                job = _wait(job["id"], args.timeout)
        elif args.command == "get":
            job = _request("GET", f"/jobs/{args.job_id}")
        elif args.command == "wait":
            job = _wait(args.job_id, 600)
        elif args.command in ("cancel", "retry"):
            job = _request("POST", f"/jobs/{args.job_id}/{args.command}")
        elif args.command == "list":
            query = {k: v for k, v in (("status", args.status), ("type", args.type), ("limit", args.limit)) if v}
            job = _request("GET", "/jobs?" + urllib.parse.urlencode(query))
        else:
            job = _request("GET", "/job-types")
    except ApiError as exc:
        print(json.dumps(exc.body, indent=2), file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"cannot reach BatchLab at {os.environ.get('BATCHLAB_URL', 'http://127.0.0.1:8000')}: {exc.reason}", file=sys.stderr)
        return 2
    print(json.dumps(job, indent=2, ensure_ascii=False))
    return 0 if not (isinstance(job, dict) and job.get("status") == "FAILED") else 3


if __name__ == "__main__":
    sys.exit(main())
