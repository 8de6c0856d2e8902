"""The benchmark's bare DRF endpoints: the same body validated, and optionally the same two AWS calls.

`POST /bare/validate` validates a job submission as BatchLab's serializer does
(name, type, payload) and answers 201. `POST /bare/store` also does what a
submission costs at the boundary, straight through boto3: one PutItem of an item
of the same shape and one SendMessage. Served by gunicorn with
devstack.bare_settings (same middleware and token authentication as BatchLab).
"""

import json
import os
import threading
import uuid
from datetime import datetime, timezone

import boto3
from django.urls import path
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from devstack.bare_names import DRF_QUEUE as QUEUE
from devstack.bare_names import DRF_TABLE as TABLE

_local = threading.local()


class SubmitSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=64)
    payload = serializers.JSONField(required=False, default=dict)

    def validate_payload(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


def _clients():
    if not hasattr(_local, "clients"):
        session = boto3.session.Session(region_name=os.environ.get("AWS_REGION", "us-east-1"))
        sqs = session.client("sqs", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_SQS"))
        _local.clients = (
            session.client("dynamodb", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")),
            sqs,
            sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"],
        )
    return _local.clients


class ValidateView(APIView):
    def post(self, request):
        serializer = SubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"id": str(uuid.uuid4()), **serializer.validated_data}, status=status.HTTP_201_CREATED)


class StoreView(APIView):
    def post(self, request):
        serializer = SubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data, job_id = serializer.validated_data, str(uuid.uuid4())
        now = datetime.now(timezone.utc).isoformat()
        dynamodb, sqs, queue_url = _clients()
        dynamodb.put_item(
            TableName=TABLE,
            Item={"JobId": {"S": job_id}, "Name": {"S": data["name"]}, "Type": {"S": data["type"]},
                  "Payload": {"S": json.dumps(data["payload"])}, "Status": {"S": "QUEUED"},
                  "Owner": {"S": request.user.username}, "CreatedAt": {"S": now}},
            ConditionExpression="attribute_not_exists(JobId)",
        )
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"id": job_id}))
        return Response({"id": job_id, **data, "status": "QUEUED", "created_at": now}, status=status.HTTP_201_CREATED)


urlpatterns = [path("bare/validate", ValidateView.as_view()), path("bare/store", StoreView.as_view())]
