"""The HTTP API of item jobs and bulk submission (DRF): each view validates with a serializer and calls a service or a selector."""

import json

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from batchlab.errors import problem_response, problem_responses
from jobs import selectors, services
from jobs.exceptions import InvalidPayload, JobNotFound, UnknownJobType
from jobs.handlers.registry import job_type_get
from jobs.serializers import JobSerializer, is_job_id, job_detail, payload_size
from jobs.serializers.items import (
    MAX_BULK_JOBS,
    BulkJobSerializer,
    BulkRequestSerializer,
    BulkResponseSerializer,
    ChunkPageSerializer,
    FileSubmitSerializer,
    ItemJobSubmitSerializer,
    ItemPageSerializer,
    chunk_row,
    inline_items_size_check,
    upload_length_check,
    upload_size_check,
)
from jobs.services.jobs.bulk import BulkSpec, jobs_submit_bulk
from jobs.services.items.files import job_submit_file

UNAUTHENTICATED = {401: "`not_authenticated` (no credentials) or `authentication_failed` (wrong ones)."}
NOT_FOUND = {404: "`job_not_found`: no such job among the jobs this user may see."}
NOT_ITEMS = {409: "`not_an_item_job`: the job has no items."}
STORE_DOWN = {503: "`store_unavailable`: the job store did not answer; try again."}
SUBMIT_ERRORS = {
    400: "`validation_error` (every bad or unknown field in `errors`), `unknown_job_type`, `invalid_items` (bad items by"
         " line number in `errors.items`, the first 20 then a count; `bad_lines` is the total), `empty_file`.",
    **UNAUTHENTICATED,
    413: "`payload_too_large` (inline items over their byte limit), `file_too_large`, `too_many_lines`.",
    422: "`idempotency_key_reused`: this Idempotency-Key came before with another body.",
    503: "`store_unavailable`, or `queue_unavailable`: the job is stored and the recovery pass will queue its chunks.",
}


def _owner(request) -> str | None:
    return None if request.user.is_staff else request.user.username


def item_job_submit(request, *, idempotency_key: str | None) -> Response:
    """POST /jobs with "items": one item job of up to BATCHLAB_MAX_INLINE_ITEMS items (called by the jobs view)."""
    inline_items_size_check(request.data)
    form = ItemJobSubmitSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    data = form.validated_data
    source = services.items_inline(type=data["type"], values=data["items"], on_invalid=data["on_invalid"])
    job, created = services.job_submit_items(
        owner=request.user.username, name=data["name"], type=data["type"], payload=data["payload"], source=source,
        chunk_size=data.get("chunk_size"), max_failed_ratio=data.get("max_failed_ratio"), idempotency_key=idempotency_key,
        run_at=data.get("run_at"), priority=data.get("priority"), concurrency_key=data.get("concurrency_key"),
        webhook=data.get("webhook"),
    )
    return Response(job_detail(job), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
                    headers={"Location": f"/jobs/{job.job_id}"})


def _item_job(request, job_id: str):
    if not is_job_id(job_id):
        raise JobNotFound(f"No job {job_id[:64]}.")
    return selectors.item_job_get(job_id=job_id, owner=_owner(request))


class PageQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=100)
    cursor = serializers.CharField(max_length=2000, required=False)


class ItemsQuery(PageQuery):
    status = serializers.ChoiceField(choices=selectors.ITEM_STATUSES, required=False)


def _paged(request, page, rows) -> Response:
    next_url = None
    if page.next_cursor:
        params = request.query_params.copy()
        params["cursor"] = page.next_cursor
        next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
    return Response({"results": rows, "next": next_url, "next_cursor": page.next_cursor})


READ_ERRORS = problem_responses({
    400: "`validation_error` (a bad query parameter), `invalid_cursor`.", **UNAUTHENTICATED, **NOT_FOUND, **NOT_ITEMS, **STORE_DOWN,
})


class JobChunksView(APIView):
    @extend_schema(operation_id="jobs_chunks", summary="An item job's chunks, in order (paged)", parameters=[PageQuery],
                   responses={200: ChunkPageSerializer, **READ_ERRORS})
    def get(self, request, job_id: str):
        query = PageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        job = _item_job(request, job_id)
        page = selectors.job_chunks(job=job, limit=query.validated_data["limit"], cursor=query.validated_data.get("cursor"))
        return _paged(request, page, [chunk_row(c) for c in page.items])


class JobItemsView(APIView):
    @extend_schema(operation_id="jobs_items", parameters=[ItemsQuery], responses={200: ItemPageSerializer, **READ_ERRORS},
                   summary="An item job's items (e.g. ?status=failed) with line, input, and error or result (paged)")
    def get(self, request, job_id: str):
        query = ItemsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        job = _item_job(request, job_id)
        page = selectors.job_items(job=job, status=q.get("status"), limit=q["limit"], cursor=q.get("cursor"))
        return _paged(request, page, page.items)


class JobResultsView(APIView):
    @extend_schema(operation_id="jobs_results", summary="Every item's result or error as NDJSON, in input order (streamed)",
                   responses={(200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR, description="One JSON object per line."),
                              **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **NOT_ITEMS, **STORE_DOWN})})
    def get(self, request, job_id: str):
        job = _item_job(request, job_id)
        lines = (json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n" for row in selectors.job_results(job=job))
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="{job.job_id}-results.ndjson"'
        return response


class JobFileView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(operation_id="jobs_submit_file", summary="Submit an item job from an NDJSON file (one item per line)",
                   request={"multipart/form-data": FileSubmitSerializer},
                   responses={201: OpenApiResponse(JobSerializer, description="Stored as QUEUED, its chunks queued (with run_at"
                                                               " further ahead than 15 minutes: SCHEDULED, queued when due)."),
                              200: OpenApiResponse(JobSerializer, description="An Idempotency-Key seen before: its job."),
                              **problem_responses({**SUBMIT_ERRORS, 415: "`unsupported_media_type`: send multipart/form-data."})})
    def post(self, request):
        upload_length_check(request)
        form = FileSubmitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        upload = data["file"]
        upload_size_check(upload)
        job, created = job_submit_file(
            owner=request.user.username, name=data["name"], type=data["type"], payload=data["payload"], stream=upload,
            chunk_size=data.get("chunk_size"), max_failed_ratio=data.get("max_failed_ratio"), on_invalid=data["on_invalid"],
            idempotency_key=request.headers.get("Idempotency-Key"), run_at=data.get("run_at"),
            priority=data.get("priority"), concurrency_key=data.get("concurrency_key"), webhook=data.get("webhook"),
        )
        return Response(job_detail(job), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
                        headers={"Location": f"/jobs/{job.job_id}"})


def _bulk_invalid(errors: dict) -> Response:
    return problem_response(400, code="validation_error", detail=f"Invalid input: {', '.join(sorted(errors))}.", errors=errors)


class JobBulkView(APIView):
    @extend_schema(operation_id="jobs_submit_bulk", summary="Submit up to 100 independent jobs in one request",
                   request=BulkRequestSerializer,
                   responses={201: BulkResponseSerializer, **problem_responses({
                       400: "`validation_error`: every bad field of every job, by index (`jobs[3].payload.x`); nothing is written.",
                       **UNAUTHENTICATED,
                       503: "`store_unavailable`, or `queue_unavailable`: stored; the recovery pass queues them."})})
    def post(self, request):
        jobs = request.data.get("jobs") if isinstance(request.data, dict) else None
        if not isinstance(jobs, list) or not jobs or len(jobs) > MAX_BULK_JOBS:
            return _bulk_invalid({"jobs": [f"Give a list of 1 to {MAX_BULK_JOBS} jobs."]})
        errors, specs = {}, []
        for index, raw in enumerate(jobs):
            one = BulkJobSerializer(data=raw) if isinstance(raw, dict) else None
            if one is None or not one.is_valid():
                for name, messages in (one.errors if one is not None else {"non_field_errors": ["Must be a JSON object."]}).items():
                    errors[f"jobs[{index}].{name}"] = messages
                continue
            data = one.validated_data
            try:
                payload = job_type_get(data["type"]).validate(data.get("payload", {}))
                if payload_size(payload) > settings.BATCHLAB_MAX_PAYLOAD_BYTES:
                    raise InvalidPayload({"payload": [f"Over {settings.BATCHLAB_MAX_PAYLOAD_BYTES} bytes."]})
            except UnknownJobType as exc:
                errors[f"jobs[{index}].type"] = [exc.detail]
                continue
            except InvalidPayload as exc:
                errors.update({f"jobs[{index}].{k}": v for k, v in exc.errors.items()})
                continue
            specs.append(BulkSpec(name=data["name"], type=data["type"], payload=payload, idempotency_key=data.get("idempotency_key"),
                                  run_at=data.get("run_at"), priority=data.get("priority"),
                                  concurrency_key=data.get("concurrency_key"), webhook=data.get("webhook")))
        if errors:
            return _bulk_invalid(errors)
        results = jobs_submit_bulk(owner=request.user.username, specs=specs)
        body = {"results": [{"index": i, "id": job.job_id, "url": f"/jobs/{job.job_id}", "status": job.status, "created": created}
                            for i, (job, created) in enumerate(results)]}
        return Response(body, status=status.HTTP_201_CREATED)
