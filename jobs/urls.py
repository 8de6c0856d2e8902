"""API routes: /jobs and friends (no trailing slashes)."""

from django.urls import path

from jobs import api, api_workers

urlpatterns = [
    path("jobs", api.JobListCreateView.as_view(), name="job-list"),
    path("jobs/<str:job_id>", api.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<str:job_id>/cancel", api.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<str:job_id>/retry", api.JobRetryView.as_view(), name="job-retry"),
    path("jobs/<str:job_id>/requeue", api.JobRequeueView.as_view(), name="job-requeue"),
    path("job-types", api.JobTypesView.as_view(), name="job-types"),
    path("dead-letters", api.DeadLetterView.as_view(), name="dead-letters"),
    path("dead-letters/redrive", api.DeadLetterRedriveView.as_view(), name="dead-letters-redrive"),
    path("workers", api_workers.WorkerListView.as_view(), name="workers"),
]
