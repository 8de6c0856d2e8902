"""Schedule pages: my schedules with the create form, one schedule (runs, history, edit, pause/resume, run now, delete), and the staff list.

Plain server-rendered forms (multipart: a schedule of an item type may upload
its items): frontend.schedule_forms reads them with the API's serializers (the
same messages, every bad field at once); the views write through services and
read through selectors.
"""

import json

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from jobs import selectors, services
from jobs.api.jobs import visible_owner
from frontend.schedule_forms import items_summary, schedule_form_read, service_errors, type_choices
from jobs.exceptions import JobError, ScheduleNotFound
from jobs.items import ON_INVALID
from jobs.serializers.schedules import OVERLAP_POLICIES, schedule_detail, schedule_summary


def _form_context(values=None, errors: dict | None = None, *, editing: dict | None = None) -> dict:
    """The form's choices, the values to show again, the errors by field; `editing`: the schedule being edited."""
    types = type_choices()
    values = values or {}
    # The type shown: the one given, else echo (as on the home page), else the first.
    chosen = next((t for t in types if t["name"] == values.get("type")), None) or next(
        (t for t in types if t["name"] == "echo"), types[0] if types else None)
    errors = errors or {}
    # "items" is looked up here, not in the template, where `values.items` / `errors.items` may be the dict's method.
    typed = values.get("items") if hasattr(values, "get") else None
    return {"types": types, "chosen_type": chosen, "overlaps": OVERLAP_POLICIES, "on_invalid_choices": ON_INVALID,
            "values": values, "errors": errors, "editing": editing, "items_typed": typed if isinstance(typed, str) else "",
            "items_errors": errors.get("items") or [],
            "payload_errors": [(k, v) for k, v in errors.items() if k == "payload" or k.startswith("payload.")],
            "limits": {"inline": f"{settings.BATCHLAB_MAX_INLINE_ITEMS:,}", "lines": f"{settings.BATCHLAB_MAX_FILE_LINES:,}"}}


def _with_items_text(summary: dict) -> dict:
    return {**summary, "items_text": items_summary(summary.get("items"))}


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
        changes, errors = schedule_form_read(request.POST, request.FILES)
        if not errors:
            try:
                schedule = services.schedule_create(owner=request.user.username, **changes)
            except JobError as exc:
                errors = service_errors(exc)
            else:
                messages.success(request, f"Schedule {schedule.name!r} created.")
                return redirect("ui-schedule", schedule_id=schedule.schedule_id)
        values, status = request.POST, 400
    try:
        schedules = [_with_items_text(schedule_summary(v))
                     for v in selectors.schedule_list(owner=request.user.username)]
    except JobError as exc:
        return render(request, "frontend/error.html", {"title": "Schedules unavailable", "detail": exc.detail}, status=503)
    return render(request, "frontend/schedules.html", {"schedules": schedules, **_form_context(values, errors)}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def schedule_page(request, schedule_id: str):
    """One schedule: next run (local time and "in …"), last run, the last 50 runs, success rate, history; edit form."""
    owner, values, errors, status = visible_owner(request), {}, {}, 200
    try:
        view = selectors.schedule_get(schedule_id=schedule_id, owner=owner)
    except ScheduleNotFound:
        return _not_found(request)
    except JobError as exc:
        return render(request, "frontend/error.html", {"title": "Schedule unavailable", "detail": exc.detail}, status=503)
    if request.method == "POST" and view.schedule.workflow_object:
        messages.error(request, "This schedule fires a workflow: edit it with PATCH /schedules/{id} or the CLI.")
        return redirect("ui-schedule", schedule_id=schedule_id)
    if request.method == "POST":
        changes, errors = schedule_form_read(request.POST, request.FILES, current=view.schedule)
        if not errors:
            try:
                services.schedule_update(schedule_id=schedule_id, owner=owner, actor=request.user.username, changes=changes)
                messages.success(request, "Saved; the schedulers use it from their next tick.")
                return redirect("ui-schedule", schedule_id=schedule_id)
            except JobError as exc:
                errors = service_errors(exc)
        values, status = request.POST, 400
    schedule = _with_items_text(schedule_detail(view))
    if not values:  # the current items are not shown again: an empty box keeps them
        values = {**schedule, "payload": json.dumps(schedule["payload"], indent=2),
                  "max_failed_ratio": "" if view.schedule.max_failed_ratio is None else view.schedule.max_failed_ratio}
    return render(request, "frontend/schedule.html", {"schedule": schedule, **_form_context(values, errors, editing=schedule)},
                  status=status)


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
            "run": f"Started job {result.job_id}." if hasattr(result, "job_id") else
                   f"Started workflow {getattr(result, 'workflow_id', '')}."}
    messages.success(request, done[action])
    return redirect("ui-schedule", schedule_id=schedule_id)


@staff_member_required
def staff_schedule_list(request):
    """Staff: every schedule, with owner, timing, policy, next and last run and counters."""
    try:
        schedules = [_with_items_text(schedule_summary(v)) for v in selectors.schedule_list(owner=None)]
    except JobError as exc:
        messages.error(request, exc.detail)
        schedules = []
    return render(request, "frontend/staff/schedule_list.html",
                  {**admin.site.each_context(request), "schedules": schedules, "title": "Schedules"})
