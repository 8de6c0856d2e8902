"""The user's pages: my jobs with the submit form, one job's detail, the API token page.

The pages render a skeleton; static/frontend/js/* fills it from the JSON API
(same origin, session cookie, X-CSRFToken) and polls it while jobs can change.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from jobs import selectors
from jobs.api.jobs import visible_owner
from jobs.exceptions import JobError, JobNotFound
from jobs.serializers import is_job_id, job_detail
from jobs.states import JobStatus
from frontend.webhooks import job_deliveries

# The page polls every 5 s (the design's figure) and every 30 s while its tab is hidden.
POLL = {"visible_ms": 5000, "hidden_ms": 30000}


def page_context(**extra) -> dict:
    return {"poll": POLL, "statuses": [s.value for s in JobStatus], "embedded": settings.EMBEDDED, **extra}


@login_required
@ensure_csrf_cookie
def home(request):
    """My jobs and the submit form."""
    return render(request, "frontend/home.html", page_context())


@login_required
@ensure_csrf_cookie
def job_page(request, job_id: str):
    """One job: every field, payload, result, error, timeline; Cancel and Retry."""
    try:
        if not is_job_id(job_id):
            raise JobNotFound()
        job = selectors.job_get(job_id=job_id, owner=visible_owner(request))
    except JobNotFound:
        # Another user's job answers exactly as a job that does not exist.
        return render(request, "frontend/error.html", {
            "title": "Job not found",
            "detail": "There is no job with this id among the jobs you can see.",
        }, status=404)
    except JobError as exc:
        return render(request, "frontend/error.html", {"title": "Job unavailable", "detail": exc.detail}, status=503)
    deliveries = job_deliveries(job.job_id) if job.hook_events else []
    return render(request, "frontend/job.html", {
        **page_context(job=job_detail(job, workflow=selectors.step_relations(job))), "deliveries": deliveries,
        "hook_events": list(job.hook_events or [])})


@login_required
@require_http_methods(["GET", "POST"])
def token_page(request):
    """The user's API token, created on first view; POST replaces it with a new one."""
    if request.method == "POST":
        Token.objects.filter(user=request.user).delete()
        Token.objects.create(user=request.user)
        messages.success(request, "A new token was created; the old one no longer works.")
        return redirect("token")
    token, created = Token.objects.get_or_create(user=request.user)
    return render(request, "frontend/token.html", {
        "token": token.key,
        "created": created,
        "api_url": request.build_absolute_uri("/jobs"),
    })
