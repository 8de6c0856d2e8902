"""The HTTP API of schedules (/schedules) and of delayed jobs (run now): thin views over services and selectors."""

import uuid

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from batchlab.errors import problem_responses
from jobs import selectors, services
from jobs.api.jobs import CONFLICT, NOT_FOUND, QUEUE_DOWN, STORE_DOWN, UNAUTHENTICATED, _checked_id, visible_owner
from jobs.serializers.items import inline_items_size_check, upload_length_check, upload_size_check
from jobs.exceptions import InvalidPayload, ScheduleNotFound
from jobs.handlers.registry import job_type_get
from jobs.serializers import JobSerializer, job_detail
from jobs.serializers.schedules import (
    ScheduleFileSerializer,
    ScheduleItemsFileSerializer,
    ScheduleListSerializer,
    ScheduleSerializer,
    ScheduleWriteSerializer,
    WorkflowScheduleWriteSerializer,
    schedule_detail,
    schedule_summary,
)
from jobs.serializers.workflows import workflow_detail

INVALID = {400: "`validation_error`: every bad field in `errors` (cron, interval out of range, timezone, type, payload.*,"
                " items); `invalid_items`: bad items by line number in `errors.items`; `empty_file`.",
           413: "`payload_too_large` (inline items over their byte limit), `file_too_large`, `too_many_lines`."}
NO_SCHEDULE = {404: "`schedule_not_found`: no such schedule among those this user may see."}
SCHEDULE_CONFLICT = {409: "`schedule_state_conflict`: changed meanwhile five times in a row (try again), or the previous run is still going."}


def _checked_schedule_id(schedule_id: str) -> str:
    try:
        if str(uuid.UUID(schedule_id)) == schedule_id.lower() and len(schedule_id) == 36:
            return schedule_id
    except (ValueError, AttributeError):
        pass
    raise ScheduleNotFound(f"No schedule {schedule_id[:64]}.")


def _write_serializer(data, *, owner: str, current=None):
    """A schedule's create (current None) or edit: of a workflow (`workflow` given, or the schedule fires one) or of a type."""
    fires_workflow = current.workflow_object if current is not None else isinstance(data, dict) and "workflow" in data
    serializer_class = WorkflowScheduleWriteSerializer if fires_workflow else ScheduleWriteSerializer
    return serializer_class(data=data, partial=current is not None, context={"current": current, "owner": owner})


def _detail(request, schedule_id: str, status_code: int = 200) -> Response:
    view = selectors.schedule_get(schedule_id=schedule_id, owner=visible_owner(request))
    return Response(schedule_detail(view), status=status_code)


def _created(request, schedule) -> Response:
    response = _detail(request, schedule.schedule_id, status.HTTP_201_CREATED)
    response["Location"] = f"/schedules/{schedule.schedule_id}"
    return response


class ScheduleListCreateView(APIView):
    inline_items_upload = "POST /schedules/files"  # a body may carry a schedule's items (batchlab.parsers)

    @extend_schema(
        operation_id="schedules_create", summary="Create a recurring schedule (interval or cron + timezone)",
        request=ScheduleWriteSerializer,
        responses={201: OpenApiResponse(ScheduleSerializer, description="Stored; the first run is one interval (or"
                                        " the next cron time) from now."),
                   **problem_responses({**INVALID, **UNAUTHENTICATED, **STORE_DOWN})},
    )
    def post(self, request):
        inline_items_size_check(request.data, upload=self.inline_items_upload)
        serializer = _write_serializer(request.data, owner=request.user.username)
        serializer.is_valid(raise_exception=True)
        schedule = services.schedule_create(owner=request.user.username, **serializer.validated_data)
        return _created(request, schedule)

    @extend_schema(
        operation_id="schedules_list", summary="List schedules, newest first (staff: every schedule)",
        responses={200: ScheduleListSerializer, **problem_responses({**UNAUTHENTICATED, **STORE_DOWN})},
    )
    def get(self, request):
        views = selectors.schedule_list(owner=visible_owner(request))
        return Response({"results": [schedule_summary(v) for v in views]})


class ScheduleDetailView(APIView):
    inline_items_upload = "PUT /schedules/{id}/items"  # an edit may carry new items (batchlab.parsers)

    @extend_schema(
        operation_id="schedules_get", summary="A schedule with its last 50 runs, success rate and history",
        responses={200: ScheduleSerializer, **problem_responses({**UNAUTHENTICATED, **NO_SCHEDULE, **STORE_DOWN})},
    )
    def get(self, request, schedule_id: str):
        return _detail(request, _checked_schedule_id(schedule_id))

    @extend_schema(
        operation_id="schedules_edit", summary="Edit a schedule: takes effect at the schedulers' next tick",
        request=ScheduleWriteSerializer,
        responses={200: ScheduleSerializer,
                   **problem_responses({**INVALID, **UNAUTHENTICATED, **NO_SCHEDULE, **SCHEDULE_CONFLICT, **STORE_DOWN})},
    )
    def patch(self, request, schedule_id: str):
        inline_items_size_check(request.data, upload=self.inline_items_upload)
        owner = visible_owner(request)
        current = selectors.schedule_get(schedule_id=_checked_schedule_id(schedule_id), owner=owner, with_jobs=False)
        serializer = _write_serializer(request.data, owner=current.schedule.owner, current=current.schedule)
        serializer.is_valid(raise_exception=True)
        services.schedule_update(schedule_id=schedule_id, owner=owner, actor=request.user.username,
                                 changes=dict(serializer.validated_data))
        return _detail(request, schedule_id)

    @extend_schema(
        operation_id="schedules_delete", summary="Delete a schedule (its jobs stay until they expire)",
        responses={204: None, **problem_responses({**UNAUTHENTICATED, **NO_SCHEDULE, **STORE_DOWN})},
    )
    def delete(self, request, schedule_id: str):
        services.schedule_delete(schedule_id=_checked_schedule_id(schedule_id), owner=visible_owner(request),
                                 actor=request.user.username)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SchedulePauseResumeView(APIView):
    """POST /schedules/{id}/pause and /resume."""

    action_name = "pause"

    @extend_schema(
        summary="Pause a schedule, or resume it (the next due time counted from now)", request=None,
        responses={200: ScheduleSerializer,
                   **problem_responses({**UNAUTHENTICATED, **NO_SCHEDULE, **SCHEDULE_CONFLICT, **STORE_DOWN})},
    )
    def post(self, request, schedule_id: str):
        action = services.schedule_pause if self.action_name == "pause" else services.schedule_resume
        action(schedule_id=_checked_schedule_id(schedule_id), owner=visible_owner(request), actor=request.user.username)
        return _detail(request, schedule_id)


class ScheduleRunNowView(APIView):
    @extend_schema(
        operation_id="schedules_run_now", summary="Run a schedule now (its due times are unchanged)", request=None,
        responses={202: OpenApiResponse(JobSerializer, description="The run's job; a schedule that fires a workflow "
                                        "answers its workflow instead, as GET /workflows/{id} shows it."),
                   **problem_responses({**UNAUTHENTICATED, **NO_SCHEDULE, **SCHEDULE_CONFLICT, **QUEUE_DOWN})},
    )
    def post(self, request, schedule_id: str):
        run = services.schedule_run_now(schedule_id=_checked_schedule_id(schedule_id), owner=visible_owner(request),
                                        actor=request.user.username)
        if not hasattr(run, "job_id"):  # a schedule that fires a workflow: its workflow, as GET /workflows/{id}
            view = selectors.workflow_get(workflow_id=run.workflow_id, owner=visible_owner(request))
            return Response(workflow_detail(view), status=status.HTTP_202_ACCEPTED,
                            headers={"Location": f"/workflows/{run.workflow_id}"})
        return Response(job_detail(run), status=status.HTTP_202_ACCEPTED, headers={"Location": f"/jobs/{run.job_id}"})


class JobRunNowView(APIView):
    @extend_schema(
        operation_id="jobs_run_now", summary="Publish a SCHEDULED job now instead of at its due time", request=None,
        responses={202: JobSerializer, **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **CONFLICT, **QUEUE_DOWN})},
    )
    def post(self, request, job_id: str):
        job = services.job_run_now(job_id=_checked_id(job_id), owner=visible_owner(request), actor=request.user.username)
        return Response(job_detail(job), status=status.HTTP_202_ACCEPTED)


class ScheduleFileCreateView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="schedules_create_file", summary="Create a recurring schedule of an item type, its items from an NDJSON file",
        request={"multipart/form-data": ScheduleFileSerializer},
        responses={201: OpenApiResponse(ScheduleSerializer, description="Stored, its items in S3; every run is an item job."),
                   **problem_responses({**INVALID, **UNAUTHENTICATED, **STORE_DOWN,
                                        415: "`unsupported_media_type`: send multipart/form-data."})},
    )
    def post(self, request):
        upload_length_check(request)
        serializer = ScheduleFileSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        upload = data.pop("file")
        upload_size_check(upload)
        schedule = services.schedule_create(owner=request.user.username, items_file=upload, **data)
        return _created(request, schedule)


class ScheduleItemsView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="schedules_items_replace", summary="Replace a schedule's items with an NDJSON file (from its next run)",
        request={"multipart/form-data": ScheduleItemsFileSerializer},
        responses={200: ScheduleSerializer,
                   **problem_responses({**INVALID, **UNAUTHENTICATED, **NO_SCHEDULE, **SCHEDULE_CONFLICT, **STORE_DOWN,
                                        415: "`unsupported_media_type`: send multipart/form-data."})},
    )
    def put(self, request, schedule_id: str):
        owner = visible_owner(request)
        upload_length_check(request)
        current = selectors.schedule_get(schedule_id=_checked_schedule_id(schedule_id), owner=owner, with_jobs=False)
        serializer = ScheduleItemsFileSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if current.schedule.workflow_object:
            raise InvalidPayload({"file": ["This schedule fires a workflow: it has no items (give its item steps items)."]})
        if job_type_get(current.schedule.type).items is None:
            raise InvalidPayload({"file": [f"Job type {current.schedule.type!r} does not take items; this schedule runs a payload."]})
        upload = data.pop("file")
        upload_size_check(upload)
        services.schedule_update(schedule_id=schedule_id, owner=owner, actor=request.user.username,
                                 changes={"items_file": upload, **data})
        return _detail(request, schedule_id)
