"""Every read, by what is read: jobs (and queues, workers), an item job's chunks and items, schedules, job types' flow control, webhooks, workflows; import the public names from here."""

from jobs.selectors.items import ITEM_STATUSES, Page, item_job_get, job_chunks, job_items, job_results
from jobs.selectors.jobs import (
    JobPage,
    WorkerView,
    dead_letters_peek,
    dlq_oldest_age,
    job_get,
    job_list,
    job_status_counts,
    job_unfinished_counts,
    jobs_get_many,
    oldest_queued_age,
    queue_counts,
    queue_ping,
    store_ping,
    workers_count,
    workers_list,
)
from jobs.selectors.flow import TypeView, flow_unit_counts, type_limits, type_view, type_views
from jobs.selectors.schedules import ScheduleView, schedule_counters, schedule_get, schedule_list
from jobs.selectors.webhooks import (
    DELIVERY_STATUSES,
    DeliveryPage,
    deliveries_list,
    job_deliveries,
    webhook_get,
    webhooks_backlog,
    webhooks_list,
)
from jobs.selectors.workflows import (
    WorkflowPage,
    WorkflowView,
    graph_of,
    step_outcome,
    step_parents,
    step_relations,
    workflow_get,
    workflow_list,
)

__all__ = [
    "ITEM_STATUSES", "JobPage", "Page", "ScheduleView", "WorkerView",
    "dead_letters_peek", "dlq_oldest_age", "item_job_get", "job_chunks", "job_get", "job_items", "job_list", "job_results",
    "job_status_counts", "job_unfinished_counts", "jobs_get_many", "oldest_queued_age", "queue_counts", "queue_ping",
    "schedule_counters", "schedule_get", "schedule_list", "store_ping", "workers_count", "workers_list",
    "TypeView", "flow_unit_counts", "type_limits", "type_view", "type_views",
    "DELIVERY_STATUSES", "DeliveryPage", "deliveries_list", "job_deliveries", "webhook_get", "webhooks_backlog", "webhooks_list",
    "WorkflowPage", "WorkflowView", "graph_of", "step_outcome", "step_parents", "step_relations", "workflow_get",
    "workflow_list",
]
