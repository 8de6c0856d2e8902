"""The API's single error shape: RFC 9457 problem details with a stable `code`.

Domain exceptions are translated here through one table; anything unknown is a
500 with no internals in the body and a logged traceback. `ProblemSerializer`
describes the shape in the OpenAPI document. A body left unread is drained
before any error answer goes out (see batchlab.parsers.drain_unread_body).
"""

import functools
import logging
from http import HTTPStatus

from django.conf import settings
from django.http import Http404, JsonResponse
from django.urls import URLResolver, Resolver404, get_resolver, resolve
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions as drf
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from batchlab.parsers import drain_unread_body
from jobs import exceptions as domain

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# Domain exception -> HTTP status. The exception's own `code` goes in the body.
STATUS_BY_EXCEPTION: dict[type[domain.JobError], int] = {
    domain.JobNotFound: 404,
    domain.JobStateConflict: 409,
    domain.UnknownJobType: 400,
    domain.InvalidPayload: 400,
    domain.InvalidItems: 400,
    domain.NotAnItemJob: 409,
    domain.EmptyItemsFile: 400,
    domain.TooManyLines: 413,
    domain.FileTooLarge: 413,
    domain.PayloadTooLarge: 413,
    domain.IdempotencyKeyReused: 422,
    domain.InvalidCursor: 400,
    domain.StoreUnavailable: 503,
    domain.QueueUnavailable: 503,
    domain.ScheduleNotFound: 404,
    domain.ScheduleStateConflict: 409,
    domain.JobTypeNotFound: 404,
    domain.JobTypeConflict: 409,
    domain.WebhookNotFound: 404,
    domain.DeliveryNotFound: 404,
    domain.InvalidWebhook: 400,
    domain.WebhookStateConflict: 409,
    domain.InvalidWorkflow: 400,
    domain.WorkflowNotFound: 404,
    domain.WorkflowStateConflict: 409,
}

# DRF's own codes, renamed where a clearer stable one helps clients.
DRF_CODES = {
    drf.NotAuthenticated: "not_authenticated",
    drf.AuthenticationFailed: "authentication_failed",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.ParseError: "malformed_request",
    drf.Throttled: "throttled",
    drf.ValidationError: "validation_error",
}


def problem(status: int, *, code: str, detail: str, **extra) -> dict:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "code": code, "detail": detail}
    body.update(extra)
    return body


_MESSAGES = {"type": "array", "items": {"type": "string"}}


@extend_schema_field({"oneOf": [_MESSAGES, {"type": "object", "additionalProperties": _MESSAGES}]})
class FieldErrorsField(serializers.JSONField):
    """A field's messages; for a list, an object from the index of each bad item to its messages."""


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details plus a stable `code` (the schema of every error answer)."""

    type = serializers.CharField(help_text='Always "about:blank".')
    title = serializers.CharField(help_text="The HTTP status phrase.")
    status = serializers.IntegerField()
    code = serializers.CharField(help_text="Stable and machine-readable: what went wrong.")
    detail = serializers.CharField(help_text="For people: what went wrong, with the values involved.")
    errors = serializers.DictField(
        child=FieldErrorsField(),
        required=False,
        help_text="`validation_error` only: each bad field with its messages (payload fields as `payload.<field>`).",
    )
    known_types = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="`unknown_job_type` only: the job types there are."
    )
    job_id = serializers.CharField(required=False, help_text="`queue_unavailable` only: the job stored but not yet queued.")


def problem_responses(descriptions: dict[int, str]) -> dict:
    """`@extend_schema(responses=...)` entries: each status as an application/problem+json Problem."""
    return {
        (status, PROBLEM_JSON): OpenApiResponse(ProblemSerializer, description=text) for status, text in descriptions.items()
    }


def problem_response(status: int, *, code: str, detail: str, headers: dict | None = None, **extra) -> Response:
    return Response(
        problem(status, code=code, detail=detail, **extra),
        status=status,
        content_type=PROBLEM_JSON,
        headers=headers,
    )


def problem_exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: every error leaves as problem+json, after the rest of the body is read."""
    if context and context.get("request") is not None:
        drain_unread_body(context["request"])
    if isinstance(exc, domain.JobError):
        # The nearest class in the table: a subclass (JobMovedMeanwhile) answers as its base does.
        status = next((STATUS_BY_EXCEPTION[c] for c in type(exc).__mro__ if c in STATUS_BY_EXCEPTION), 400)
        # A 503 (store or queue unavailable or throttled) says when to try again.
        headers = {"Retry-After": str(settings.BATCHLAB_RETRY_AFTER_SECONDS)} if status == 503 else None
        return problem_response(status, code=exc.code, detail=exc.detail, headers=headers, **exc.extra)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    if isinstance(exc, drf.APIException):
        response = drf_exception_handler(exc, context)
        code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), exc.default_code)
        if isinstance(exc, drf.ValidationError):
            errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            fields = ", ".join(sorted(str(k) for k in errors))
            body = problem(400, code=code, detail=f"Invalid input: {fields}.", errors=errors)
        else:
            body = problem(response.status_code, code=code, detail=str(exc.detail))
        response.data = body
        response.content_type = PROBLEM_JSON
        if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed) and response.status_code == 403:
            response.status_code = 401
            body["status"] = 401
            body["title"] = HTTPStatus(401).phrase
            response["WWW-Authenticate"] = 'Token realm="batchlab"'
        return response
    logger.exception("Unhandled error in %s", context.get("view").__class__.__name__ if context else "?")
    return problem_response(500, code="server_error", detail="An unexpected error occurred; it has been logged.")


def _json_problem(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(problem(status, code=code, detail=detail), status=status, content_type=PROBLEM_JSON)


@functools.cache
def _api_prefixes() -> frozenset[str]:
    """The first path segments of every route a DRF view serves: jobs, schedules, job-types, ..., api (the documents)."""
    prefixes = set()

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(getattr(pattern.callback, "cls", None), type) and issubclass(pattern.callback.cls, APIView):
                prefixes.add(route.lstrip("^").split("/")[0])

    walk(get_resolver().url_patterns, "")
    return frozenset(prefixes)


def is_api_path(path: str) -> bool:
    return path.lstrip("/").split("/")[0] in _api_prefixes()


# Django-level handlers, for paths outside DRF views (unknown URLs, crashes in middleware).
def handler404(request, exception=None):
    drain_unread_body(request)
    # Under the API's paths: problem+json, always. Elsewhere a person who mistypes a page address
    # gets a page; programs get problem+json.
    if not is_api_path(request.path) and "text/html" in request.headers.get("Accept", ""):
        from django.shortcuts import render

        return render(request, "frontend/error.html", {"title": "Page not found", "detail": f"There is no page at {request.path}."}, status=404)
    return _json_problem(404, "not_found", f"Nothing is at {request.path[:200]}.")


class UnknownPathMiddleware:
    """With DEBUG on (`make run`), an unknown path gets handler404's answer, not Django's debug page of every URL pattern.

    Django answers a path no route matches with that page whenever DEBUG is on, whatever
    handler404 says. A 404 of a path that does resolve (a view's own 404) is left as it is.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.DEBUG and response.status_code == 404 and not _resolves(request):
            return handler404(request)
        return response


def _resolves(request) -> bool:
    try:
        resolve(request.path_info, urlconf=getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return True


def handler500(request):
    drain_unread_body(request)
    return _json_problem(500, "server_error", "An unexpected error occurred; it has been logged.")


def handler400(request, exception=None):
    drain_unread_body(request)
    return _json_problem(400, "bad_request", "Bad request.")
