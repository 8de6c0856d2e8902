"""What the fault scenarios share: submitting through the API, worker chores, and the closing check."""

import concurrent.futures
import time

import requests

from tests.faults.checker import Verdict, history_check, wait_terminal


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


def close_with_check(stack, acknowledged: list[str], title: str, *, timeout: float, extra: dict | None = None) -> Verdict:
    """Stop the faults, wait (bounded) for every job to end, then run the checker and print its table."""
    stack.clear_faults()
    waited = wait_terminal(stack, acknowledged, timeout=timeout)
    verdict = history_check(stack, acknowledged)
    verdict.extra.update(extra or {})
    verdict.extra.update({f"injected: {k}": v for k, v in stack.injected().items()})
    verdict.extra["seconds to settle after faults stopped"] = round(waited, 1)
    print("\n" + verdict.table(title), flush=True)
    return verdict


def elapsed(started: float) -> float:
    return round(time.monotonic() - started, 1)
