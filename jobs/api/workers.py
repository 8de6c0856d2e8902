"""GET /workers (staff): the worker processes that sent a heartbeat lately, alive or stale, and what they run."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from batchlab.errors import problem_responses
from jobs import selectors
from jobs.api.jobs import STAFF_ONLY, STORE_DOWN, UNAUTHENTICATED
from jobs.serializers.workers import EXAMPLE, WorkerListSerializer, worker_list_page


class WorkerListView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="workers_list",
        summary="Staff: worker processes, alive or stale, with what they run",
        description="Each worker writes its record every BATCHLAB_WORKER_HEARTBEAT_SECONDS (15 s by default). "
                    "A record not renewed for two intervals is stale: the worker died, hangs, or cannot reach "
                    "DynamoDB. A worker that stops removes its record; a stale one expires after 40 intervals.",
        responses={200: WorkerListSerializer, **problem_responses({**UNAUTHENTICATED, **STAFF_ONLY, **STORE_DOWN})},
        examples=[OpenApiExample("one worker running one job", value=EXAMPLE, response_only=True, status_codes=["200"])],
    )
    def get(self, request):
        return Response(worker_list_page(selectors.workers_list()))
