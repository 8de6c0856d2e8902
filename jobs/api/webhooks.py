"""The HTTP API of webhooks (DRF): endpoints, their secrets and test pings, deliveries and redelivery, a job's deliveries."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from batchlab.errors import problem_responses
from jobs import selectors
from jobs.api.jobs import STORE_DOWN, UNAUTHENTICATED, _checked_id, visible_owner
from jobs.services import webhooks as services
from jobs.serializers.webhooks import (
    DeliveryDetailSerializer,
    DeliveryListQuerySerializer,
    DeliveryListSerializer,
    DeliveryPageSerializer,
    WebhookCreateSerializer,
    WebhookListSerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
    WebhookWithSecretSerializer,
    delivery_shape,
    webhook_shape,
)

NOT_FOUND = {404: "`webhook_not_found`: no such endpoint among those this user may see (`delivery_not_found`: no such delivery)."}
INVALID = {400: "`validation_error`: a field is bad (not a URL, a scheme or address webhooks may not use, an unknown event);"
                " each in `errors`."}
CONFLICT = {409: "`webhook_state_conflict`: it changed meanwhile, or does not allow this."}
TAGS = ["webhooks"]


class WebhookListCreateView(APIView):
    @extend_schema(operation_id="webhooks_create", summary="Create a webhook endpoint", tags=TAGS, request=WebhookCreateSerializer,
                   responses={201: OpenApiResponse(WebhookWithSecretSerializer, description="Created; `secret` is shown this once."),
                              **problem_responses({**INVALID, **UNAUTHENTICATED, **CONFLICT, **STORE_DOWN})})
    def post(self, request):
        form = WebhookCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        endpoint, secret = services.webhook_create(owner=request.user.username, url=data["url"], events_wanted=data["events"],
                                                   description=data.get("description", ""))
        return Response(webhook_shape(endpoint, secret=secret, with_secret=True), status=status.HTTP_201_CREATED,
                        headers={"Location": f"/webhooks/{endpoint.hook_id}"})

    @extend_schema(operation_id="webhooks_list", summary="List webhook endpoints (staff: every user's)", tags=TAGS,
                   responses={200: WebhookListSerializer, **problem_responses({**UNAUTHENTICATED, **STORE_DOWN})})
    def get(self, request):
        return Response({"results": [webhook_shape(e) for e in selectors.webhooks_list(owner=visible_owner(request))]})


class WebhookSecretView(APIView):
    @extend_schema(operation_id="webhooks_secret", summary="The signing secret of your per-job callbacks (made on first use)",
                   tags=TAGS,
                   responses={201: OpenApiResponse(WebhookWithSecretSerializer, description="Made now: `secret` is shown this once."),
                              200: OpenApiResponse(WebhookWithSecretSerializer, description="Made before: `secret` is null"
                                                   " (POST /webhooks/{id}/rotate-secret makes a new one)."),
                              **problem_responses({**UNAUTHENTICATED, **STORE_DOWN})})
    def get(self, request):
        record, secret = services.callback_secret_ensure(owner=request.user.username)
        return Response(webhook_shape(record, secret=secret, with_secret=True),
                        status=status.HTTP_201_CREATED if secret else status.HTTP_200_OK)


class WebhookDetailView(APIView):
    @extend_schema(operation_id="webhooks_get", summary="One webhook endpoint", tags=TAGS,
                   responses={200: WebhookSerializer, **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **STORE_DOWN})})
    def get(self, request, hook_id: str):
        return Response(webhook_shape(selectors.webhook_get(hook_id=hook_id, owner=visible_owner(request))))

    @extend_schema(operation_id="webhooks_update", summary="Change a webhook endpoint (url, events, description, enabled)",
                   tags=TAGS, request=WebhookUpdateSerializer,
                   responses={200: WebhookSerializer, **problem_responses({**INVALID, **UNAUTHENTICATED, **NOT_FOUND, **CONFLICT,
                                                                           **STORE_DOWN})})
    def patch(self, request, hook_id: str):
        form = WebhookUpdateSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        endpoint = services.webhook_update(owner=visible_owner(request), hook_id=hook_id, changes=dict(form.validated_data))
        return Response(webhook_shape(endpoint))

    @extend_schema(operation_id="webhooks_delete", summary="Delete a webhook endpoint", tags=TAGS,
                   responses={204: None, **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **STORE_DOWN})})
    def delete(self, request, hook_id: str):
        services.webhook_delete(owner=visible_owner(request), hook_id=hook_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateView(APIView):
    @extend_schema(operation_id="webhooks_rotate_secret", summary="A new signing secret; the old one signs 24 h more", tags=TAGS,
                   request=None, responses={200: OpenApiResponse(WebhookWithSecretSerializer, description="`secret`: shown once."),
                                            **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **CONFLICT, **STORE_DOWN})})
    def post(self, request, hook_id: str):
        endpoint, secret = services.webhook_rotate_secret(owner=visible_owner(request), hook_id=hook_id)
        return Response(webhook_shape(endpoint, secret=secret, with_secret=True))


class WebhookTestView(APIView):
    @extend_schema(operation_id="webhooks_test", summary="Send a ping event to the endpoint", tags=TAGS, request=None,
                   responses={202: OpenApiResponse(DeliveryDetailSerializer, description="Queued: follow it at its `url`."),
                              **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **CONFLICT, **STORE_DOWN})})
    def post(self, request, hook_id: str):
        delivery = services.webhook_test(hook_id=hook_id, owner=visible_owner(request))
        return Response(delivery_shape(delivery, detail=True), status=status.HTTP_202_ACCEPTED,
                        headers={"Location": f"/webhooks/{hook_id}/deliveries/{delivery.event_id}"})


class DeliveryListView(APIView):
    @extend_schema(operation_id="webhooks_deliveries", summary="An endpoint's deliveries, newest first, with their attempts",
                   tags=TAGS, parameters=[DeliveryListQuerySerializer],
                   responses={200: DeliveryPageSerializer, **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **STORE_DOWN})})
    def get(self, request, hook_id: str):
        query = DeliveryListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        endpoint = selectors.webhook_get(hook_id=hook_id, owner=visible_owner(request))
        page = selectors.deliveries_list(endpoint=endpoint, status=q.get("status"), limit=q["limit"], cursor=q.get("cursor"))
        return Response({"results": [delivery_shape(d) for d in page.items], "next_cursor": page.next_cursor})


class DeliveryDetailView(APIView):
    @extend_schema(operation_id="webhooks_delivery", summary="One delivery, with its body and attempts", tags=TAGS,
                   responses={200: DeliveryDetailSerializer, **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **STORE_DOWN})})
    def get(self, request, hook_id: str, event_id: str):
        delivery = services.delivery_get(hook_id=hook_id, event_id=event_id, owner=visible_owner(request))
        return Response(delivery_shape(delivery, detail=True))


class DeliveryRedeliverView(APIView):
    @extend_schema(operation_id="webhooks_redeliver", summary="Send a delivery again (same webhook-id and body)", tags=TAGS,
                   request=None,
                   responses={202: DeliveryDetailSerializer, **problem_responses({**UNAUTHENTICATED, **NOT_FOUND, **CONFLICT,
                                                                                 **STORE_DOWN})})
    def post(self, request, hook_id: str, event_id: str):
        delivery = services.delivery_redeliver(hook_id=hook_id, event_id=event_id, owner=visible_owner(request),
                                               actor=request.user.username)
        return Response(delivery_shape(delivery, detail=True), status=status.HTTP_202_ACCEPTED)


class JobDeliveriesView(APIView):
    @extend_schema(operation_id="jobs_deliveries", summary="The webhook deliveries of a job's events", tags=["jobs"],
                   responses={200: DeliveryListSerializer, **problem_responses({
                       **UNAUTHENTICATED, 404: "`job_not_found`: no such job among the jobs this user may see.", **STORE_DOWN})})
    def get(self, request, job_id: str):
        job = selectors.job_get(job_id=_checked_id(job_id), owner=visible_owner(request))
        return Response({"results": [delivery_shape(d) for d in selectors.job_deliveries(job_id=job.job_id)]})
