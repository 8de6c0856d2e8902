"""A failed SQS long poll is an empty poll for the worker, never an exception that stops it."""

import types

import boto3
import pytest
from kombu.asynchronous.aws.connection import AsyncAWSQueryConnection
from kombu.asynchronous.aws.sqs.connection import AsyncSQSConnection

import batchlab.celery  # noqa: F401  (installs the wrapper)


def response(status: int, reason: str = ""):
    return types.SimpleNamespace(status=status, reason=reason, read=lambda: b"<Error>nope</Error>", response=None)


@pytest.fixture
def connection():
    stub = types.SimpleNamespace(sqs_connection=boto3.client("sqs", region_name="us-east-1"))
    stub._for_status = lambda resp, body: AsyncAWSQueryConnection._for_status(stub, resp, body)
    for name in ("STATUS_CODE_OK", "STATUS_CODES_TIMEOUT", "STATUS_CODES_SERVER_ERRORS"):
        setattr(stub, name, getattr(AsyncAWSQueryConnection, name))
    return stub


def test_the_wrapper_is_installed_on_the_sqs_connection():
    assert AsyncSQSConnection._on_list_ready.__wrapped__ is AsyncAWSQueryConnection._on_list_ready


@pytest.mark.parametrize("status", [599, 500, 502, 503, 504, 408, 400, 403])
def test_a_failed_receive_is_an_empty_poll(connection, status):
    # Unwrapped, kombu answers [] (599, 5xx) -- on which its channel calls .get() -- or raises (4xx).
    result = AsyncSQSConnection._on_list_ready(connection, "batchlab-jobs", [], "ReceiveMessage", response(status))
    assert result == {}
    assert not result.get("Messages")


def test_other_operations_are_left_alone(connection):
    with pytest.raises(Exception, match="HTTP 400"):
        AsyncSQSConnection._on_list_ready(connection, "batchlab-jobs", [], "ListQueues", response(400))
    assert AsyncSQSConnection._on_list_ready(connection, "batchlab-jobs", [], "ListQueues", response(599)) == []


def test_each_receive_outcome_is_recorded_for_the_heartbeat(connection, monkeypatch):
    from jobs.worker import state as worker_state

    before = worker_state.snapshot()
    AsyncSQSConnection._on_list_ready(connection, "batchlab-jobs", [], "ReceiveMessage", response(503))
    assert worker_state.snapshot()["receive_failures"] == before["receive_failures"] + 1
    assert worker_state.snapshot()["last_receive_at"] == before["last_receive_at"]
    # A 200 (here: an empty long poll) is a successful receive, with or without messages.
    monkeypatch.setattr("kombu.asynchronous.aws.connection.get_response", lambda model, raw: (raw, {}))
    ok = types.SimpleNamespace(status=200, reason="OK", response=types.SimpleNamespace())
    assert AsyncSQSConnection._on_list_ready(connection, "batchlab-jobs", [], "ReceiveMessage", ok) == {}
    assert worker_state.snapshot()["last_receive_at"] is not None
    assert 0 <= worker_state.seconds_since_receive() < 5
