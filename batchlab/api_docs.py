"""ReDoc at /api/redoc/ with nothing from elsewhere: local fonts and script, and its one remote image (a logo) blocked."""

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView


class RedocView(SpectacularRedocView):
    template_name = "frontend/api/redoc.html"

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        # ReDoc's "API docs by Redocly" badge loads a logo from its CDN; images from this server only.
        response["Content-Security-Policy"] = "img-src 'self' data: blob:"
        return response
