"""The Job types page: every type with its pause, priority and limits (users see; staff edit, pause and resume), each type's history.

The edit form is read with the API's serializer (the same messages, every bad
field at once) and written through the same service as PATCH /job-types/{type}.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from jobs import selectors, services
from jobs.exceptions import JobError, JobTypeNotFound
from jobs.serializers.flow import TypeSettingsPatchSerializer, job_type_settings, limits_shape

NUMBERS = ("concurrency_limit", "key_concurrency_limit")
TEXTS = ("rate_limit", "key_rate_limit")


def _not_found(request):
    return render(request, "frontend/error.html", {"title": "Job type not found", "detail": "There is no such job type."},
                  status=404)


def settings_form_read(form) -> tuple[dict, dict]:
    """(changes, errors by field) from the edit form: an empty box is "no limit"; a number box takes a whole number."""
    data, errors = {}, {}
    for name in NUMBERS:
        text = (form.get(name) or "").strip()
        if not text:
            data[name] = None
        elif text.lstrip("-").isdigit():
            data[name] = int(text)
        else:
            errors[name] = ["A whole number, or empty for no limit."]
    for name in TEXTS:
        data[name] = (form.get(name) or "").strip() or None
    if form.get("priority"):
        data["priority"] = form["priority"]
    serializer = TypeSettingsPatchSerializer(data={k: v for k, v in data.items() if k not in errors})
    if not serializer.is_valid():
        errors.update({k: [str(m) for m in v] for k, v in serializer.errors.items()})
    return (dict(serializer.validated_data) if not errors else {}), errors


@login_required
def job_types_page(request):
    """Every type: paused or not, default priority, limits, and how many run under a concurrency limit."""
    try:
        views = selectors.type_views()
    except JobError as exc:
        return render(request, "frontend/error.html", {"title": "Job types unavailable", "detail": exc.detail}, status=503)
    rows = [{"name": v.name, "description": v.job_type.description, "settings": limits_shape(v.limits),
             "customized": v.customized} for v in views]
    return render(request, "frontend/job_types.html", {"types": rows})


@login_required
@require_http_methods(["GET", "POST"])
def job_type_page(request, type: str):
    """One type: its settings now and its declared defaults; staff: the edit form, pause/resume, the history."""
    errors, values, status = {}, None, 200
    if request.method == "POST":
        if not request.user.is_staff:
            return render(request, "frontend/error.html", {"title": "Staff only", "detail": "Only staff change a type's settings."},
                          status=403)
        changes, errors = settings_form_read(request.POST)
        if not errors:
            try:
                services.type_settings_update(type=type, actor=request.user.username, changes=changes)
            except JobTypeNotFound:
                return _not_found(request)
            except JobError as exc:
                errors = getattr(exc, "errors", None) or {"non_field_errors": [exc.detail]}
            else:
                messages.success(request, "Saved: every worker applies it within a few seconds.")
                return redirect("ui-job-type", type=type)
        values, status = request.POST, 400
    try:
        view = selectors.type_view(type=type, history=request.user.is_staff)
    except JobTypeNotFound:
        return _not_found(request)
    except JobError as exc:
        return render(request, "frontend/error.html", {"title": "Job type unavailable", "detail": exc.detail}, status=503)
    body = job_type_settings(view, staff=request.user.is_staff)
    return render(request, "frontend/job_type.html", {"jt": body, "values": values or body["settings"], "errors": errors,
                                                      "priorities": ["high", "normal", "low"]}, status=status)


@login_required
@require_POST
def job_type_action(request, type: str, action: str):
    """Staff: pause or resume, then back to the type's page."""
    if not request.user.is_staff or action not in ("pause", "resume"):
        return render(request, "frontend/error.html", {"title": "Staff only", "detail": "Only staff pause or resume a type."},
                      status=403)
    try:
        (services.type_pause if action == "pause" else services.type_resume)(type=type, actor=request.user.username)
    except JobTypeNotFound:
        return _not_found(request)
    except JobError as exc:
        messages.error(request, exc.detail)
        return redirect("ui-job-type", type=type)
    messages.success(request, "Paused: running jobs finish, nothing new starts." if action == "pause"
                     else "Resumed: its waiting jobs start again.")
    return redirect("ui-job-type", type=type)
