"""The benchmark's floor for the submit path: a bare DRF view that validates the same body and stores nothing.

`POST /bare/validate` validates a job submission as BatchLab's serializer does
(name, type, payload) and answers 201. Served by gunicorn with
devstack.bare_settings (same middleware and token authentication as BatchLab).
The peer's view (devstack.peer_web) validates with the same serializer.
"""

import uuid

from django.urls import path
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView


class SubmitSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=64)
    payload = serializers.JSONField(required=False, default=dict)

    def validate_payload(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class ValidateView(APIView):
    def post(self, request):
        serializer = SubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"id": str(uuid.uuid4()), **serializer.validated_data}, status=status.HTTP_201_CREATED)


urlpatterns = [path("bare/validate", ValidateView.as_view())]
