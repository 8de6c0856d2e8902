"""What the fault scenarios share: submitting through the API, worker chores, and the closing checks."""

import concurrent.futures
import json
import time

import requests

from tests.faults.checker import Verdict, history_check, wait_terminal
from tests.faults.checker_items import ItemVerdict, item_history_check


def api_token(stack, user: str = "demo") -> str:
    """The user's API token (HTTP Basic would hash the password on every request: slow, and not what programs do)."""
    if not hasattr(stack, "_tokens"):
        stack._tokens = {}
    if user not in stack._tokens:
        stack._tokens[user] = stack.manage("batchlab_token", user).strip()
    return stack._tokens[user]


def submit_many(stack, count: int, *, type: str = "effect", payload: dict | None = None,
                clients: int = 8, user: str = "demo") -> tuple[list[str], dict]:
    """POST /jobs `count` times from `clients` threads: (acknowledged job ids, answers by status code)."""
    answers: dict = {}
    headers = {"Authorization": f"Token {api_token(stack, user)}"}

    def one(index: int):
        try:
            response = requests.post(f"{stack.web_url}/jobs", json={"name": f"fault {index}", "type": type, "payload": payload or {}},
                                     headers=headers, timeout=30)
        except requests.RequestException as exc:
            return exc.__class__.__name__, None
        return response.status_code, (response.json().get("id") if response.status_code == 201 else None)

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(count)))
    for code, _ in results:
        answers[code] = answers.get(code, 0) + 1
    return [job_id for _, job_id in results if job_id], answers


def submit_items(stack, items: list, *, type: str = "effect", chunk_size: int | None = None, payload: dict | None = None,
                 user: str = "demo", attempts: int = 5) -> str:
    """One item job over `items`, inline (up to 1,000) or as an NDJSON file; returns its id.

    Under faults the API may answer 503 (the store or the queue refused): the
    client tries again, as a program would, with an Idempotency-Key so that a
    retried POST never makes a second job.
    """
    headers = {"Authorization": f"Token {api_token(stack, user)}", "Idempotency-Key": f"items-{time.time_ns()}"}
    fields = {"name": f"{type} items", "type": type, **({"chunk_size": chunk_size} if chunk_size else {}),
              **({"payload": payload} if payload else {})}
    for attempt in range(1, attempts + 1):
        try:
            if len(items) <= 1000:
                response = requests.post(f"{stack.web_url}/jobs", json={**fields, "items": items}, headers=headers, timeout=60)
            else:
                content = "".join(json.dumps(item) + "\n" for item in items).encode()
                form = {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in fields.items()}
                response = requests.post(f"{stack.web_url}/jobs/files", data=form,
                                         files={"file": ("items.ndjson", content, "application/x-ndjson")},
                                         headers=headers, timeout=120)
        except requests.RequestException:
            response = None
        if response is not None and response.status_code in (200, 201):
            return response.json()["id"]
        if attempt == attempts or (response is not None and response.status_code < 500):
            raise AssertionError(f"item job not accepted: {response.status_code if response is not None else 'no answer'} "
                                 f"{response.text[:500] if response is not None else ''}")
        time.sleep(1)
    raise AssertionError("unreachable")


def close_with_check(stack, acknowledged: list[str], title: str, *, timeout: float, extra: dict | None = None,
                     check=history_check) -> Verdict:
    """Stop the faults, wait (bounded) for every job to end, then run the checker and print its table.

    `check` is the checker: history_check (plain jobs) or item_history_check (item jobs).
    """
    stack.clear_faults()
    waited = wait_terminal(stack, acknowledged, timeout=timeout)
    verdict = check(stack, acknowledged)
    verdict.extra.update(extra or {})
    verdict.extra.update({f"injected: {k}": v for k, v in stack.injected().items()})
    verdict.extra["seconds to settle after faults stopped"] = round(waited, 1)
    print("\n" + verdict.table(title), flush=True)
    return verdict


def close_items_with_check(stack, acknowledged: list[str], title: str, **kwargs) -> ItemVerdict:
    """close_with_check for item jobs."""
    return close_with_check(stack, acknowledged, title, check=item_history_check, **kwargs)


def elapsed(started: float) -> float:
    return round(time.monotonic() - started, 1)
