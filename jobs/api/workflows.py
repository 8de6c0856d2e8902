"""The HTTP API of workflows (/workflows): submit, list, read, cancel and retry a DAG of steps; thin views over services and selectors."""

import uuid

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from batchlab.errors import problem_responses
from batchlab.parsers import WorkflowJSONParser
from jobs import selectors, services
from jobs.api import examples as api_examples
from jobs.api.jobs import IDEMPOTENCY_KEY_HEADER, STORE_DOWN, UNAUTHENTICATED, visible_owner
from jobs.exceptions import WorkflowNotFound
from jobs.serializers import idempotency_key
from jobs.serializers.workflow_request import WorkflowListQuerySerializer, WorkflowSubmitSerializer, workflow_definition_read
from jobs.serializers.workflows import (
    WorkflowListPageSerializer,
    WorkflowSerializer,
    workflow_detail,
    workflow_list_page,
)

NOT_FOUND = {404: "`workflow_not_found`: no such workflow among those this user may see."}
CONFLICT = {409: "`workflow_state_conflict`: its status does not allow this (or it changed meanwhile: try again)."}


def _checked_id(workflow_id: str) -> str:
    try:
        if str(uuid.UUID(workflow_id)) == workflow_id.lower() and len(workflow_id) == 36:
            return workflow_id
    except (ValueError, AttributeError):
        pass
    raise WorkflowNotFound(f"No workflow {workflow_id[:64]}.")


def _detail(request, workflow_id: str, status_code: int = 200, headers: dict | None = None, *,
            consistent: bool = True) -> Response:
    view = selectors.workflow_get(workflow_id=workflow_id, owner=visible_owner(request), consistent=consistent)
    return Response(workflow_detail(view), status=status_code, headers=headers)


class WorkflowListCreateView(APIView):
    parser_classes = [WorkflowJSONParser]

    @extend_schema(
        operation_id="workflows_submit",
        summary="Submit a workflow: a DAG of steps (each a job), all or nothing",
        request=WorkflowSubmitSerializer,
        parameters=[IDEMPOTENCY_KEY_HEADER],
        examples=api_examples.WORKFLOW_SUBMIT,
        responses={
            201: OpenApiResponse(WorkflowSerializer, description="Stored and started: its first steps are queued, the"
                                 " others WAITING for their parents."),
            200: OpenApiResponse(WorkflowSerializer, description="An Idempotency-Key seen before with this body: its workflow."),
            **problem_responses({
                400: "`invalid_workflow`: every problem in `errors`, by field — `steps.<name>.needs` (an unknown step, a"
                     " cycle named by its steps), `steps.<name>` (not a slug), `steps` (none, or over 500 steps or 5,000"
                     " edges), `steps.<name>.<field>` (the step's own fields, as POST /jobs checks them);"
                     " `invalid_idempotency_key`, `malformed_request`.",
                **UNAUTHENTICATED,
                413: "`payload_too_large`: the body is over BATCHLAB_MAX_WORKFLOW_BYTES (or a step's payload over its limit).",
                422: "`idempotency_key_reused`: this Idempotency-Key came before with another body.",
                **STORE_DOWN,
            }),
        },
    )
    def post(self, request):
        key = idempotency_key(request.headers)
        owner = request.user.username
        definition = workflow_definition_read(request.data, owner=owner)
        header, created = services.workflow_submit(owner=owner, definition=definition, idempotency_key=key)
        return _detail(request, header.workflow_id, status.HTTP_201_CREATED if created else status.HTTP_200_OK,
                       headers={"Location": f"/workflows/{header.workflow_id}"})

    @extend_schema(
        operation_id="workflows_list",
        summary="List workflows, newest first (mine; staff: all)",
        parameters=[WorkflowListQuerySerializer],
        responses={200: WorkflowListPageSerializer, **problem_responses({
            400: "`validation_error` (a bad status or limit), `invalid_cursor`.", **UNAUTHENTICATED, **STORE_DOWN})},
    )
    def get(self, request):
        query = WorkflowListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        page = selectors.workflow_list(owner=visible_owner(request), status=q.get("status"), limit=q["limit"],
                                       cursor=q.get("cursor"))
        next_url = None
        if page.next_cursor:
            params = request.query_params.copy()
            params["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response(workflow_list_page(page.items, next_url=next_url, next_cursor=page.next_cursor))


class WorkflowDetailView(APIView):
    @extend_schema(
        operation_id="workflows_get",
        summary="Get a workflow: its status, each step's job, status, timings and result, the edges",
        responses={200: WorkflowSerializer, **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **STORE_DOWN})},
    )
    def get(self, request, workflow_id: str):
        return _detail(request, _checked_id(workflow_id), consistent=False)


class WorkflowCancelView(APIView):
    @extend_schema(
        operation_id="workflows_cancel",
        summary="Cancel a workflow: every unfinished step (running ones stop at their handler's next check)",
        request=None,
        responses={200: WorkflowSerializer, **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **CONFLICT, **STORE_DOWN})},
    )
    def post(self, request, workflow_id: str):
        header = services.workflow_cancel(workflow_id=_checked_id(workflow_id), owner=visible_owner(request),
                                          actor=request.user.username)
        return _detail(request, header.workflow_id)


class WorkflowRetryView(APIView):
    @extend_schema(
        operation_id="workflows_retry",
        summary="Retry a FAILED or CANCELED workflow: its failed and canceled steps and everything below them",
        request=None,
        responses={202: WorkflowSerializer, **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **CONFLICT, **STORE_DOWN})},
    )
    def post(self, request, workflow_id: str):
        header = services.workflow_retry(workflow_id=_checked_id(workflow_id), owner=visible_owner(request),
                                         actor=request.user.username)
        return _detail(request, header.workflow_id, status.HTTP_202_ACCEPTED)
