"""GET and PATCH /job-types/{type}, POST /job-types/{type}/pause and /resume: a type's flow-control settings (staff edit, users see)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from batchlab.errors import problem_responses
from jobs import selectors, services
from jobs.api.jobs import STAFF_ONLY, STORE_DOWN, UNAUTHENTICATED
from jobs.serializers.flow import JobTypeSettingsSerializer, TypeSettingsPatchSerializer, job_type_settings

NO_TYPE = {404: "`job_type_not_found`: no such job type (the known ones in `known_types`)."}
TYPE_CONFLICT = {409: "`job_type_conflict`: the settings kept changing meanwhile; try again."}
EXAMPLE = {"paused": False, "concurrency_limit": 2, "rate_limit": "5/s", "key_concurrency_limit": 1}


class _StaffWrites(IsAuthenticated):
    """Anyone signed in reads a type's settings; only staff change them."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        return request.method in ("GET", "HEAD", "OPTIONS") or IsAdminUser().has_permission(request, view)


def _answer(request, type: str) -> Response:
    view = selectors.type_view(type=type, history=request.user.is_staff)
    return Response(job_type_settings(view, staff=request.user.is_staff))


class JobTypeDetailView(APIView):
    permission_classes = [_StaffWrites]

    @extend_schema(
        operation_id="job_types_get", summary="A job type's flow-control settings: paused, priority, limits (staff: with history)",
        responses={200: JobTypeSettingsSerializer, **problem_responses({**UNAUTHENTICATED, **NO_TYPE, **STORE_DOWN})},
    )
    def get(self, request, type: str):
        return _answer(request, type)

    @extend_schema(
        operation_id="job_types_edit",
        summary="Staff: change a job type's settings (every worker applies them within 5 s)",
        description="Any of the fields; the others stay. `null` removes a limit. The edit is recorded in the history. "
                    "A type with no limits claims its jobs with one UpdateItem; a limit adds the type's (or key's) "
                    "limiter item to the claim's transaction.",
        request=TypeSettingsPatchSerializer,
        examples=[OpenApiExample("a partner API: 5 starts a second, 2 at once, 1 per customer", value=EXAMPLE, request_only=True)],
        responses={200: JobTypeSettingsSerializer,
                   **problem_responses({400: "`validation_error`: every bad or unknown field in `errors` (a rate such as"
                                             " `0/s` or `ten/s`, a limit under 1, an unknown priority).",
                                        **UNAUTHENTICATED, **STAFF_ONLY, **NO_TYPE, **TYPE_CONFLICT, **STORE_DOWN})},
    )
    def patch(self, request, type: str):
        selectors.type_view(type=type, history=False)  # 404 before 400 for an unknown type
        serializer = TypeSettingsPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.type_settings_update(type=type, actor=request.user.username, changes=dict(serializer.validated_data))
        return _answer(request, type)


class JobTypePauseResumeView(APIView):
    """POST /job-types/{type}/pause and /resume."""

    permission_classes = [IsAdminUser]
    action_name = "pause"

    @extend_schema(
        summary="Staff: pause a job type (running jobs finish, nothing new starts), or resume it",
        request=None,
        responses={200: JobTypeSettingsSerializer,
                   **problem_responses({**UNAUTHENTICATED, **STAFF_ONLY, **NO_TYPE, **TYPE_CONFLICT, **STORE_DOWN})},
    )
    def post(self, request, type: str):
        action = services.type_pause if self.action_name == "pause" else services.type_resume
        action(type=type, actor=request.user.username)
        return _answer(request, type)
