"""Page routes for users: my jobs, a job's page, log in / out, the API token page.

The API owns /jobs, /jobs/<id>, /job-types and /dead-letters, so a job's page lives at /ui/jobs/<id>
(and /schedules: a schedule's page is /ui/schedules/<id>; a job type's, /ui/job-types/<type>; webhooks, /ui/webhooks;
a workflow's, /ui/workflows/<id>).
"""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import job_types, schedules, views, webhooks, workflows

urlpatterns = [
    path("", views.home, name="home"),
    path("ui/jobs/<str:job_id>", views.job_page, name="ui-job"),
    path("ui/workflows/<str:workflow_id>", workflows.workflow_page, name="ui-workflow"),
    path("ui/schedules", schedules.schedule_list_page, name="ui-schedules"),
    path("ui/job-types", job_types.job_types_page, name="ui-job-types"),
    path("ui/job-types/<str:type>", job_types.job_type_page, name="ui-job-type"),
    path("ui/job-types/<str:type>/<str:action>", job_types.job_type_action, name="ui-job-type-action"),
    path("ui/schedules/<str:schedule_id>", schedules.schedule_page, name="ui-schedule"),
    path("ui/schedules/<str:schedule_id>/<str:action>", schedules.schedule_action, name="ui-schedule-action"),
    path("ui/webhooks", webhooks.webhooks_page, name="ui-webhooks"),
    path("ui/webhooks/<str:hook_id>", webhooks.webhook_page, name="ui-webhook"),
    path("ui/webhooks/<str:hook_id>/<str:action>", webhooks.webhook_action, name="ui-webhook-action"),
    path("accounts/login/", auth_views.LoginView.as_view(
        template_name="frontend/login.html", redirect_authenticated_user=True,
        extra_context={"embedded": settings.EMBEDDED},
    ), name="login"),
    # Django 5 accepts only POST here (the header's "Log out" button is a small form).
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/token/", views.token_page, name="token"),
]
