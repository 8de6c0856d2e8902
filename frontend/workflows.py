"""Workflow pages: one workflow drawn as its DAG (live), and the staff list of every workflow."""

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from frontend.views import page_context
from jobs import selectors
from jobs.api.jobs import visible_owner
from jobs.exceptions import JobError, WorkflowNotFound
from jobs.serializers import is_job_id
from jobs.serializers.workflows import workflow_detail, workflow_list_page
from jobs.states import WorkflowStatus


@login_required
@ensure_csrf_cookie
def workflow_page(request, workflow_id: str):
    """One workflow: its DAG coloured by status, each step linking to its job's page; Cancel and Retry."""
    try:
        if not is_job_id(workflow_id):  # a workflow's id is a UUID too
            raise WorkflowNotFound()
        view = selectors.workflow_get(workflow_id=workflow_id, owner=visible_owner(request))
    except WorkflowNotFound:
        return render(request, "frontend/error.html", {
            "title": "Workflow not found", "detail": "There is no workflow with this id among the workflows you can see.",
        }, status=404)
    except JobError as exc:
        return render(request, "frontend/error.html", {"title": "Workflow unavailable", "detail": exc.detail}, status=503)
    return render(request, "frontend/workflow.html", page_context(workflow=workflow_detail(view)))


STAFF_STATUSES = [s.value for s in WorkflowStatus if s != WorkflowStatus.SUBMITTING]


@staff_member_required
def staff_workflow_list(request):
    """Staff: every user's workflows, newest first, with a status filter and pages."""
    status = request.GET.get("status") if request.GET.get("status") in STAFF_STATUSES else None
    try:
        page = selectors.workflow_list(owner=None, status=status, limit=50, cursor=request.GET.get("cursor") or None)
        rows, cursor = workflow_list_page(page.items)["results"], page.next_cursor
    except JobError as exc:
        messages.error(request, exc.detail)
        rows, cursor = [], None
    return render(request, "frontend/staff/workflow_list.html", {
        **admin.site.each_context(request), "workflows": rows, "next_cursor": cursor, "status": status,
        "statuses": STAFF_STATUSES, "title": "Workflows"})
