"""The HTTP API (DRF): thin views over services and selectors."""

import re

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from batchlab.errors import problem_response
from jobs import queues, selectors, services
from jobs.exceptions import JobNotFound, PayloadTooLarge, UnknownJobType
from jobs.handlers.registry import job_type_get
from jobs.serializers import (
    JobListQuerySerializer,
    JobSubmitSerializer,
    is_job_id,
    job_detail,
    job_summary,
    job_type_catalogue,
    payload_size,
)

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def visible_owner(request) -> str | None:
    """Whose jobs this request may see: None for staff (all), else the user's own."""
    return None if request.user.is_staff else request.user.username


class JobListCreateView(APIView):
    @extend_schema(
        request=JobSubmitSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)],
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT},
        summary="Submit a job",
    )
    def post(self, request):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        limit = settings.BATCHLAB_MAX_PAYLOAD_BYTES
        if length > limit + 16 * 1024:
            raise PayloadTooLarge(f"The request body is {length} bytes; the payload limit is {limit} bytes.")
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY.match(key):
            return problem_response(
                400, code="invalid_idempotency_key",
                detail="Idempotency-Key must be 1 to 255 visible ASCII characters.",
            )
        if not isinstance(request.data, dict):
            return problem_response(400, code="validation_error", detail="The body must be a JSON object.",
                                    errors={"non_field_errors": ["Expected a JSON object."]})
        serializer = JobSubmitSerializer(data=request.data)
        valid = serializer.is_valid()
        errors = dict(serializer.errors)
        data = serializer.validated_data if valid else {}
        job_type_name = request.data.get("type") if isinstance(request.data.get("type"), str) else None
        unknown = None
        if job_type_name and "type" not in errors:
            try:
                job_type_get(job_type_name)
            except UnknownJobType as exc:
                unknown = exc
                errors["type"] = [exc.detail]
        payload = request.data.get("payload", {})
        size = payload_size(payload) if "payload" not in errors else 0
        if size > limit:
            raise PayloadTooLarge(f"The payload is {size} bytes; the limit is {limit} bytes.")
        if "payload" not in errors and "type" not in errors and job_type_name:
            try:
                job_type_get(job_type_name).validate(payload)
            except Exception as exc:  # InvalidPayload: list its fields with the others
                errors.update(getattr(exc, "errors", {"payload": [str(exc)]}))
        if errors:
            if unknown is not None and set(errors) == {"type"}:
                raise unknown
            return problem_response(400, code="validation_error",
                                    detail=f"Invalid input: {', '.join(sorted(errors))}.", errors=errors)
        job, created = services.job_submit(
            owner=request.user.username, name=data["name"], type=data["type"], payload=data["payload"], idempotency_key=key,
        )
        body = job_detail(job)
        headers = {"Location": f"/jobs/{job.job_id}"}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK, headers=headers)

    @extend_schema(parameters=[JobListQuerySerializer], responses={200: OpenApiTypes.OBJECT}, summary="List jobs")
    def get(self, request):
        query = JobListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        owner = visible_owner(request)
        if "ids" in q:
            jobs = selectors.jobs_get_many(job_ids=q["ids"], owner=owner)
            return Response({"results": [job_summary(j) for j in jobs], "next": None, "next_cursor": None})
        if q.get("owner"):
            if owner is not None and q["owner"] != owner:
                return Response({"results": [], "next": None, "next_cursor": None})
            owner = q["owner"]
        page = selectors.job_list(owner=owner, status=q.get("status"), type=q.get("type"), limit=q["limit"], cursor=q.get("cursor"))
        next_url = None
        if page.next_cursor:
            params = request.query_params.copy()
            params["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response({"results": [job_summary(j) for j in page.items], "next": next_url, "next_cursor": page.next_cursor})


def _checked_id(job_id: str) -> str:
    if not is_job_id(job_id):
        raise JobNotFound(f"No job {job_id[:64]}.")
    return job_id


class JobDetailView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="Get a job")
    def get(self, request, job_id: str):
        job = selectors.job_get(job_id=_checked_id(job_id), owner=visible_owner(request))
        return Response(job_detail(job), headers={"ETag": f'"{int(job.version or 0)}"'})


class JobCancelView(APIView):
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, summary="Cancel a job")
    def post(self, request, job_id: str):
        job = services.job_cancel(job_id=_checked_id(job_id), owner=visible_owner(request), actor=request.user.username)
        return Response(job_detail(job))


class JobRetryView(APIView):
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, summary="Retry a failed or canceled job")
    def post(self, request, job_id: str):
        job = services.job_retry(job_id=_checked_id(job_id), owner=visible_owner(request), actor=request.user.username)
        return Response(job_detail(job), status=status.HTTP_202_ACCEPTED)


class JobRequeueView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT}, summary="Staff: publish a QUEUED job again")
    def post(self, request, job_id: str):
        job = services.job_requeue(job_id=_checked_id(job_id), actor=request.user.username)
        return Response(job_detail(job), status=status.HTTP_202_ACCEPTED)


class JobTypesView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="The registered job types with example payloads")
    def get(self, request):
        return Response({"results": job_type_catalogue()})


class DeadLetterView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="Staff: the dead-letter queue")
    def get(self, request):
        letters = queues.dlq_peek(max_messages=100)
        return Response({
            "counts": queues.queue_counts(),
            "results": [
                {"message_id": m.message_id, "job_id": m.job_id, "receive_count": m.receive_count, "sent_at": m.sent_at}
                for m in letters
            ],
        })


class DeadLetterRedriveView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses={200: inline_serializer("Redrive", {"redriven": serializers.ListField(), "dropped": serializers.ListField()})},
                   summary="Staff: move dead letters back to the jobs queue")
    def post(self, request):
        return Response(services.dlq_redrive(actor=request.user.username))
