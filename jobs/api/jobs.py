"""The HTTP API (DRF): each view validates with a serializer, calls a service or a selector, and renders a shape."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from batchlab.errors import problem_responses
from jobs import selectors, services
from jobs.api import examples as api_examples
from jobs.api import items as api_items
from jobs.exceptions import JobNotFound
from jobs.serializers import (
    DeadLetterPageSerializer,
    JobListPageSerializer,
    JobListQuerySerializer,
    JobSerializer,
    JobSubmitSerializer,
    JobTypeCatalogueSerializer,
    RedriveSerializer,
    dead_letter_page,
    idempotency_key,
    is_job_id,
    job_detail,
    job_list_page,
    job_type_catalogue,
)


def visible_owner(request) -> str | None:
    """Whose jobs this request may see: None for staff (all), else the user's own."""
    return None if request.user.is_staff else request.user.username


def _checked_id(job_id: str) -> str:
    if not is_job_id(job_id):
        raise JobNotFound(f"No job {job_id[:64]}.")
    return job_id


# The problem+json answers of the endpoints, by status, with their codes.
UNAUTHENTICATED = {401: "`not_authenticated` (no credentials) or `authentication_failed` (wrong ones)."}
STAFF_ONLY = {403: "`permission_denied`: staff only."}
NOT_FOUND = {404: "`job_not_found`: no such job among the jobs this user may see."}
CONFLICT = {409: "`job_state_conflict`: the job's status does not allow this."}
STORE_DOWN = {503: "`store_unavailable`: the job store did not answer; try again."}
SQS_DOWN = {503: "`queue_unavailable`: SQS did not answer; try again."}
QUEUE_DOWN = {503: "`store_unavailable`, or `queue_unavailable`: the job is stored and the recovery pass will queue it."}

IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="1 to 255 visible ASCII characters. A retry with the same key and body returns the first job (200).",
)
LOCATION_HEADER = OpenApiParameter(
    "Location", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 201], description="The job's path: /jobs/{id}."
)
ETAG_HEADER = OpenApiParameter(
    "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 304], description='The job\'s version, quoted: "7".'
)
IF_NONE_MATCH_HEADER = OpenApiParameter(
    "If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="An ETag seen before: 304 with no body while the job is unchanged.",
)


class JobListCreateView(APIView):
    inline_items_upload = "POST /jobs/files"  # a body may carry an item job's items (batchlab.parsers)

    @extend_schema(
        operation_id="jobs_submit",
        summary="Submit a job",
        request=JobSubmitSerializer,
        parameters=[IDEMPOTENCY_KEY_HEADER, LOCATION_HEADER],
        examples=api_examples.SUBMIT,
        responses={
            201: OpenApiResponse(JobSerializer, description="Stored as QUEUED and queued (with run_at further ahead than"
                                 " BATCHLAB_SCHEDULED_THRESHOLD_SECONDS: stored as SCHEDULED, queued when due)."),
            200: OpenApiResponse(JobSerializer, description="An Idempotency-Key seen before with this body: its job."),
            **problem_responses({
                400: "`validation_error` (every bad or unknown field in `errors`), `unknown_job_type` (the only"
                     " error; the known types in `known_types`), `invalid_idempotency_key`, `malformed_request` (not JSON).",
                **UNAUTHENTICATED,
                404: "`job_not_found`: the job of this Idempotency-Key has expired.",
                413: "`payload_too_large`: the payload is over BATCHLAB_MAX_PAYLOAD_BYTES, the inline items over"
                     " BATCHLAB_MAX_INLINE_ITEMS_BYTES, or the body over the sum of its parts (and 16 KB).",
                415: "`unsupported_media_type`: the body must be application/json.",
                422: "`idempotency_key_reused`: this Idempotency-Key came before with another body.",
                **QUEUE_DOWN,
            }),
        },
    )
    def post(self, request):
        key = idempotency_key(request.headers)
        if isinstance(request.data, dict) and "items" in request.data:
            # An item job: the same endpoint, with "items" (see jobs.api.items).
            return api_items.item_job_submit(request, idempotency_key=key)
        serializer = JobSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job, created = services.job_submit(
            owner=request.user.username, name=data["name"], type=data["type"], payload=data["payload"],
            idempotency_key=key, validate=False,  # the serializer validated the payload by its type
            run_at=data.get("run_at"),  # a delayed job (run_at or delay_seconds)
            priority=data.get("priority"), concurrency_key=data.get("concurrency_key"),
            webhook=data.get("webhook"),  # its own callback
        )
        return Response(job_detail(job), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
                        headers={"Location": f"/jobs/{job.job_id}"})

    @extend_schema(
        operation_id="jobs_list",
        summary="List jobs, newest first",
        parameters=[JobListQuerySerializer],
        responses={
            200: JobListPageSerializer,
            **problem_responses({
                400: "`validation_error` (a bad filter, limit or id list), `invalid_cursor` (malformed, tampered"
                     " with, or issued for other filters).",
                **UNAUTHENTICATED,
                **STORE_DOWN,
            }),
        },
    )
    def get(self, request):
        query = JobListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        owner = visible_owner(request)
        if "ids" in q:
            return Response(job_list_page(selectors.jobs_get_many(job_ids=q["ids"], owner=owner)))
        if q.get("owner"):
            if owner is not None and q["owner"] != owner:
                return Response(job_list_page([]))
            owner = q["owner"]
        page = selectors.job_list(owner=owner, status=q.get("status"), type=q.get("type"), limit=q["limit"], cursor=q.get("cursor"))
        next_url = None
        if page.next_cursor:
            params = request.query_params.copy()
            params["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response(job_list_page(page.items, next_url=next_url, next_cursor=page.next_cursor))


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: `*` or any listed tag, weak or strong, equal to `etag`."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


class JobDetailView(APIView):
    @extend_schema(
        operation_id="jobs_get",
        summary="Get a job",
        parameters=[ETAG_HEADER, IF_NONE_MATCH_HEADER],
        responses={
            200: JobSerializer,
            304: OpenApiResponse(description="If-None-Match named the job's current ETag: unchanged, no body."),
            **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **STORE_DOWN}),
        },
    )
    def get(self, request, job_id: str):
        job = selectors.job_get(job_id=_checked_id(job_id), owner=visible_owner(request))
        # The version changes with every write: an unchanged job answers 304 with no
        # body, and "no-cache" makes browsers revalidate (the page's poll) rather than guess.
        headers = {"ETag": f'"{int(job.version or 0)}"', "Cache-Control": "private, no-cache"}
        if etag_matches(request.headers.get("If-None-Match"), headers["ETag"]):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(job_detail(job, workflow=selectors.step_relations(job)), headers=headers)


class JobCancelView(APIView):
    @extend_schema(
        operation_id="jobs_cancel",
        summary="Cancel a job (QUEUED: at once; PROCESSING: at the handler's next check)",
        request=None,
        examples=api_examples.CONFLICT,
        responses={200: JobSerializer, **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **CONFLICT, **STORE_DOWN})},
    )
    def post(self, request, job_id: str):
        job = services.job_cancel(job_id=_checked_id(job_id), owner=visible_owner(request), actor=request.user.username)
        return Response(job_detail(job))


class JobRetryView(APIView):
    @extend_schema(
        operation_id="jobs_retry",
        summary="Retry a failed or canceled job",
        request=None,
        responses={202: JobSerializer, **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **CONFLICT, **QUEUE_DOWN})},
    )
    def post(self, request, job_id: str):
        job = services.job_retry(job_id=_checked_id(job_id), owner=visible_owner(request), actor=request.user.username)
        return Response(job_detail(job), status=status.HTTP_202_ACCEPTED)


class JobRequeueView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="jobs_requeue",
        summary="Staff: publish a QUEUED job again",
        request=None,
        responses={
            202: JobSerializer,
            **problem_responses({**UNAUTHENTICATED, **STAFF_ONLY, **NOT_FOUND, **CONFLICT, **QUEUE_DOWN}),
        },
    )
    def post(self, request, job_id: str):
        job = services.job_requeue(job_id=_checked_id(job_id), actor=request.user.username)
        return Response(job_detail(job), status=status.HTTP_202_ACCEPTED)


class JobTypesView(APIView):
    @extend_schema(
        operation_id="job_types_list",
        summary="The registered job types with example payloads and their flow-control settings",
        responses={200: JobTypeCatalogueSerializer, **problem_responses({**UNAUTHENTICATED, **STORE_DOWN})},
    )
    def get(self, request):
        return Response(job_type_catalogue(selectors.type_views()))


class DeadLetterView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="dead_letters_list",
        summary="Staff: queue depths and the dead-letter queue's messages (left in place)",
        responses={200: DeadLetterPageSerializer, **problem_responses({**UNAUTHENTICATED, **STAFF_ONLY, **SQS_DOWN})},
    )
    def get(self, request):
        letters = selectors.dead_letters_peek(max_messages=100)
        return Response(dead_letter_page(counts=selectors.queue_counts(), letters=letters))


class DeadLetterRedriveView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="dead_letters_redrive",
        summary="Staff: move dead letters back to the jobs queue",
        request=None,
        responses={200: RedriveSerializer, **problem_responses({**UNAUTHENTICATED, **STAFF_ONLY, **QUEUE_DOWN})},
    )
    def post(self, request):
        return Response(services.dlq_redrive(actor=request.user.username))
