"""The peer's DRF endpoints, as a team would write them: validate the body and call apply_async; read the state back.

`POST /peer/jobs` validates a job submission as the bare view does (name, type,
payload) and sends `peer.echo` with the payload (one SendMessage: Celery's
DynamoDB backend writes nothing at submit). `GET /peer/jobs/{id}` answers the
task's state from the result backend (one GetItem). Served by gunicorn with
devstack.peer_settings (BatchLab's middleware and token authentication).
"""

from django.urls import path
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from devstack.bare_web import SubmitSerializer
from devstack.peer_app import app, echo


class SubmitView(APIView):
    def post(self, request):
        serializer = SubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = echo.apply_async(args=[serializer.validated_data["payload"]])
        return Response({"id": result.id, **serializer.validated_data, "status": "PENDING"}, status=status.HTTP_201_CREATED)


class StatusView(APIView):
    def get(self, request, task_id):
        result = app.AsyncResult(task_id)
        meta = result.backend.get_task_meta(task_id)
        done = meta.get("date_done")
        return Response({"id": task_id, "status": meta["status"], "finished_at": done.isoformat() if hasattr(done, "isoformat") else done})


urlpatterns = [path("peer/jobs", SubmitView.as_view()), path("peer/jobs/<str:task_id>", StatusView.as_view())]
