"""Template views for the page; they call selectors and services, never the store directly."""

from django.http import HttpResponse


def home(request):
    return HttpResponse("BatchLab is running. The API is at /jobs.", content_type="text/plain")
