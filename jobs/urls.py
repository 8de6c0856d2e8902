"""API routes: /jobs, /schedules, /webhooks, /workflows and friends (no trailing slashes)."""

from django.urls import path

from jobs.api import items as api_items
from jobs.api import job_types as api_job_types
from jobs.api import jobs as api
from jobs.api import schedules as api_schedules
from jobs.api import webhooks as api_webhooks
from jobs.api import workers as api_workers
from jobs.api import workflows as api_workflows

urlpatterns = [
    path("jobs", api.JobListCreateView.as_view(), name="job-list"),
    path("jobs/bulk", api_items.JobBulkView.as_view(), name="job-bulk"),
    path("jobs/files", api_items.JobFileView.as_view(), name="job-files"),
    path("jobs/<str:job_id>", api.JobDetailView.as_view(), name="job-detail"),
    path("jobs/<str:job_id>/cancel", api.JobCancelView.as_view(), name="job-cancel"),
    path("jobs/<str:job_id>/retry", api.JobRetryView.as_view(), name="job-retry"),
    path("jobs/<str:job_id>/requeue", api.JobRequeueView.as_view(), name="job-requeue"),
    path("jobs/<str:job_id>/run-now", api_schedules.JobRunNowView.as_view(), name="job-run-now"),
    path("schedules", api_schedules.ScheduleListCreateView.as_view(), name="schedule-list"),
    path("schedules/files", api_schedules.ScheduleFileCreateView.as_view(), name="schedule-files"),
    path("schedules/<str:schedule_id>", api_schedules.ScheduleDetailView.as_view(), name="schedule-detail"),
    path("schedules/<str:schedule_id>/items", api_schedules.ScheduleItemsView.as_view(), name="schedule-items"),
    path("schedules/<str:schedule_id>/pause", api_schedules.SchedulePauseResumeView.as_view(action_name="pause"), name="schedule-pause"),
    path("schedules/<str:schedule_id>/resume", api_schedules.SchedulePauseResumeView.as_view(action_name="resume"), name="schedule-resume"),
    path("schedules/<str:schedule_id>/run", api_schedules.ScheduleRunNowView.as_view(), name="schedule-run"),
    path("jobs/<str:job_id>/chunks", api_items.JobChunksView.as_view(), name="job-chunks"),
    path("jobs/<str:job_id>/items", api_items.JobItemsView.as_view(), name="job-items"),
    path("jobs/<str:job_id>/results", api_items.JobResultsView.as_view(), name="job-results"),
    path("job-types", api.JobTypesView.as_view(), name="job-types"),
    path("job-types/<str:type>", api_job_types.JobTypeDetailView.as_view(), name="job-type-detail"),
    path("job-types/<str:type>/pause", api_job_types.JobTypePauseResumeView.as_view(action_name="pause"), name="job-type-pause"),
    path("job-types/<str:type>/resume", api_job_types.JobTypePauseResumeView.as_view(action_name="resume"), name="job-type-resume"),
    path("dead-letters", api.DeadLetterView.as_view(), name="dead-letters"),
    path("dead-letters/redrive", api.DeadLetterRedriveView.as_view(), name="dead-letters-redrive"),
    path("workers", api_workers.WorkerListView.as_view(), name="workers"),
    path("jobs/<str:job_id>/deliveries", api_webhooks.JobDeliveriesView.as_view(), name="job-deliveries"),
    path("webhooks", api_webhooks.WebhookListCreateView.as_view(), name="webhook-list"),
    path("webhooks/secret", api_webhooks.WebhookSecretView.as_view(), name="webhook-secret"),
    path("webhooks/<str:hook_id>", api_webhooks.WebhookDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<str:hook_id>/rotate-secret", api_webhooks.WebhookRotateView.as_view(), name="webhook-rotate"),
    path("webhooks/<str:hook_id>/test", api_webhooks.WebhookTestView.as_view(), name="webhook-test"),
    path("webhooks/<str:hook_id>/deliveries", api_webhooks.DeliveryListView.as_view(), name="webhook-deliveries"),
    path("webhooks/<str:hook_id>/deliveries/<str:event_id>", api_webhooks.DeliveryDetailView.as_view(), name="webhook-delivery"),
    path("webhooks/<str:hook_id>/deliveries/<str:event_id>/redeliver", api_webhooks.DeliveryRedeliverView.as_view(),
         name="webhook-redeliver"),
    path("workflows", api_workflows.WorkflowListCreateView.as_view(), name="workflow-list"),
    path("workflows/<str:workflow_id>", api_workflows.WorkflowDetailView.as_view(), name="workflow-detail"),
    path("workflows/<str:workflow_id>/cancel", api_workflows.WorkflowCancelView.as_view(), name="workflow-cancel"),
    path("workflows/<str:workflow_id>/retry", api_workflows.WorkflowRetryView.as_view(), name="workflow-retry"),
]
