"""Top-level URL map: the API, the OpenAPI document and its UIs, health, readiness, metrics, pages, staff pages."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from batchlab import ops
from batchlab.api_docs import RedocView

urlpatterns = [
    path("", include("jobs.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("api/schema", SpectacularAPIView.as_view(), name="openapi-schema-no-slash"),
    # Swagger UI and ReDoc, served from drf-spectacular-sidecar's static files (no CDN).
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="swagger-ui"),
    path("api/redoc/", RedocView.as_view(url_name="openapi-schema"), name="redoc"),
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    # Staff inspection of jobs (DynamoDB, not the ORM): before the admin's catch-all.
    path("admin/batchlab/", include("frontend.staff_urls")),
    path("admin/", admin.site.urls),
    path("", include("frontend.urls")),
]

handler400 = "batchlab.errors.handler400"
handler404 = "batchlab.errors.handler404"
handler500 = "batchlab.errors.handler500"
