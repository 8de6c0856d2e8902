"""Schedule pages: my schedules with the create form, one schedule (runs, history, edit, pause/resume, run now, delete), and the staff list.

Plain server-rendered forms: the views validate with the API's serializer (the
same messages, every bad field at once), write through services and read
through selectors.
"""

import json

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from jobs import selectors_schedules, services
from jobs.api import visible_owner
from jobs.exceptions import JobError, ScheduleNotFound
from jobs.handlers import job_types
from jobs.serializers.schedules import OVERLAP_POLICIES, ScheduleWriteSerializer, schedule_detail, schedule_summary

FORM_FIELDS = ("name", "type", "payload", "interval_seconds", "cron", "timezone", "overlap")


def _form_data(post) -> tuple[dict, dict]:
    """The form's fields as the API's JSON body; a payload that is not JSON is an error of its own."""
    data, errors = {}, {}
    for name in FORM_FIELDS:
        value = (post.get(name) or "").strip()
        if not value:
            continue
        if name == "payload":
            try:
                value = json.loads(value)
            except ValueError as exc:
                errors["payload"] = [f"Not JSON: {exc}"]
                continue
        elif name == "interval_seconds":
            try:
                value = int(value)
            except ValueError:
                errors[name] = ["Must be a whole number of seconds."]
                continue
        data[name] = value
    return data, errors


def _form_context(values: dict | None = None, errors: dict | None = None) -> dict:
    return {"types": [t.name for t in job_types()], "overlaps": OVERLAP_POLICIES, "values": values or {},
            "errors": errors or {}}


def _not_found(request):
    return render(request, "frontend/error.html", {
        "title": "Schedule not found", "detail": "There is no schedule with this id among the schedules you can see.",
    }, status=404)


@login_required
@require_http_methods(["GET", "POST"])
def schedule_list_page(request):
    """My schedules (last and next run of each) and the form that creates one."""
    values, errors, status = {}, {}, 200
    if request.method == "POST":
        data, errors = _form_data(request.POST)
        serializer = ScheduleWriteSerializer(data=data)
        if serializer.is_valid() and not errors:
            try:
                schedule = services.schedule_create(owner=request.user.username, **serializer.validated_data)
            except JobError as exc:
                errors = {"non_field_errors": [exc.detail]}
            else:
                messages.success(request, f"Schedule {schedule.name!r} created.")
                return redirect("ui-schedule", schedule_id=schedule.schedule_id)
        errors = {**{k: [str(m) for m in v] for k, v in serializer.errors.items()}, **errors} if errors or serializer.errors else errors
        values, status = request.POST, 400
    try:
        schedules = [schedule_summary(v) for v in selectors_schedules.schedule_list(owner=request.user.username)]
    except JobError as exc:
        return render(request, "frontend/error.html", {"title": "Schedules unavailable", "detail": exc.detail}, status=503)
    return render(request, "frontend/schedules.html", {"schedules": schedules, **_form_context(values, errors)}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def schedule_page(request, schedule_id: str):
    """One schedule: next run (local time and "in …"), last run, the last 50 runs, success rate, history; edit form."""
    owner, values, errors, status = visible_owner(request), {}, {}, 200
    try:
        view = selectors_schedules.schedule_get(schedule_id=schedule_id, owner=owner)
    except ScheduleNotFound:
        return _not_found(request)
    except JobError as exc:
        return render(request, "frontend/error.html", {"title": "Schedule unavailable", "detail": exc.detail}, status=503)
    if request.method == "POST":
        data, errors = _form_data(request.POST)
        serializer = ScheduleWriteSerializer(data=data, partial=True, context={"current": view.schedule})
        if serializer.is_valid() and not errors:
            try:
                services.schedule_update(schedule_id=schedule_id, owner=owner, actor=request.user.username,
                                         changes=dict(serializer.validated_data))
                messages.success(request, "Saved; the schedulers use it from their next tick.")
                return redirect("ui-schedule", schedule_id=schedule_id)
            except JobError as exc:
                errors = {"non_field_errors": [exc.detail]}
        else:
            errors = {**{k: [str(m) for m in v] for k, v in serializer.errors.items()}, **errors}
        values, status = request.POST, 400
    schedule = schedule_detail(view)
    if not values:
        values = {**schedule, "payload": json.dumps(schedule["payload"], indent=2)}
    return render(request, "frontend/schedule.html", {"schedule": schedule, **_form_context(values, errors)}, status=status)


@login_required
@require_POST
def schedule_action(request, schedule_id: str, action: str):
    """Pause, resume, run now or delete, then back to the schedule (or the list)."""
    owner, actor = visible_owner(request), request.user.username
    calls = {"pause": services.schedule_pause, "resume": services.schedule_resume, "run": services.schedule_run_now,
             "delete": services.schedule_delete}
    if action not in calls:
        return _not_found(request)
    try:
        result = calls[action](schedule_id=schedule_id, owner=owner, actor=actor)
    except ScheduleNotFound:
        return _not_found(request)
    except JobError as exc:
        messages.error(request, exc.detail)
        return redirect("ui-schedule", schedule_id=schedule_id)
    if action == "delete":
        messages.success(request, "Schedule deleted; its jobs stay until they expire.")
        return redirect("ui-schedules")
    done = {"pause": "Paused.", "resume": "Resumed: the next run is counted from now.",
            "run": f"Started job {getattr(result, 'job_id', '')}."}
    messages.success(request, done[action])
    return redirect("ui-schedule", schedule_id=schedule_id)


@staff_member_required
def staff_schedule_list(request):
    """Staff: every schedule, with owner, timing, policy, next and last run and counters."""
    try:
        schedules = [schedule_summary(v) for v in selectors_schedules.schedule_list(owner=None)]
    except JobError as exc:
        messages.error(request, exc.detail)
        schedules = []
    return render(request, "frontend/staff/schedule_list.html",
                  {**admin.site.each_context(request), "schedules": schedules, "title": "Schedules"})
