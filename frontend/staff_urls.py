"""Staff routes under /admin/batchlab/ (included before the admin's catch-all in batchlab/urls.py)."""

from django.urls import path

from frontend import schedules, staff, staff_workers, workflows

app_name = "staff"

urlpatterns = [
    path("jobs/", staff.job_changelist, name="job-list"),
    path("jobs/action/", staff.job_action, name="job-action"),
    path("jobs/<str:job_id>/", staff.job_change, name="job-detail"),
    path("dead-letters/", staff.dead_letters, name="dead-letters"),
    path("schedules/", schedules.staff_schedule_list, name="schedule-list"),
    path("workers/", staff_workers.workers, name="workers"),
    path("workflows/", workflows.staff_workflow_list, name="workflow-list"),
]
