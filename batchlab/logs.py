"""Logging: a filter that puts the job/worker/request context on every record, the JSON formatter, the request id.

BATCHLAB_LOG_FORMAT=json gives one JSON object per line (python-json-logger) with
time, level, logger, message, job_id, job_type, attempt, worker and request_id;
text (the default) keeps the plain format. Each request gets an id (the client's
X-Request-ID when it sent a sane one), echoed in the response's X-Request-ID.
"""

import logging
import re
import uuid

from pythonjsonlogger.json import JsonFormatter

from jobs import log_context

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class ContextFilter(logging.Filter):
    """Adds every log_context field to the record (None when not set)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in log_context.current().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line, with the fields named as an operator searches for them."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s " + " ".join(f"%({f})s" for f in log_context.FIELDS),
            *args, **kwargs,
        )

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
        from datetime import UTC, datetime

        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestIdMiddleware:
    """Binds a request id for the request's log lines and returns it as X-Request-ID."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex
        with log_context.bound(request_id=request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
