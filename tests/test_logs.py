"""BATCHLAB_LOG_FORMAT=json: one JSON object per line with the job, worker and request context; text stays plain."""

import io
import json
import logging
import logging.config

import pytest
from django.conf import settings

from batchlab.logs import ContextFilter, JsonLineFormatter
from jobs import log_context


@pytest.fixture
def json_logger():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("batchlab.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_a_json_line_carries_the_job_and_the_worker(json_logger):
    logger, stream = json_logger
    with log_context.bound(job_id="j-1", job_type="sleep", attempt=2, worker="host:42"):
        logger.info("job %s claimed", "j-1")
    logger.warning("outside any job")
    first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert first["message"] == "job j-1 claimed" and first["level"] == "INFO" and first["logger"] == "batchlab.test.json"
    assert (first["job_id"], first["job_type"], first["attempt"], first["worker"]) == ("j-1", "sleep", 2, "host:42")
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert second["job_id"] is None and second["level"] == "WARNING" and "request_id" in second


def test_the_log_format_setting_picks_the_formatter():
    assert settings.LOGGING["handlers"]["console"]["formatter"] == settings.BATCHLAB_LOG_FORMAT == "text"
    assert settings.LOGGING["formatters"]["json"]["()"] == "batchlab.logs.JsonLineFormatter"


def test_each_request_gets_an_id_in_its_response(client):
    given = client.get("/healthz", HTTP_X_REQUEST_ID="req-abc.1")
    assert given["X-Request-ID"] == "req-abc.1"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces\n")
    assert made["X-Request-ID"] != "bad id with spaces\n" and len(made["X-Request-ID"]) == 32
