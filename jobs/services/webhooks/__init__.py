"""Webhooks: endpoints and secrets, the outbox on the job, deliveries as leased units, signed sends; import the public names from here.

- endpoints: webhook_create, webhook_update, webhook_delete, webhook_rotate_secret, callback_secret_ensure, endpoint_get
- outbox: job_hooks (at submission), job_status_event / job_progress_event (in a transition's write), job_progress_record
  (an item job's progress after a chunk),
  event_dispatch (the hand-over), outboxes_recover
- direct_events: schedule_run_failed_event (a failed run that made no job), workflow_ended_event (workflow.*): their
  deliveries in the transaction of the change that raises them
- deliveries: delivery_claim, delivery_record, deliveries_release_due (the due sweep); sending: delivery_try
- actions: webhook_test (a ping), delivery_redeliver, delivery_get; runner: what the delivery worker runs
- addresses, signing, sender: where a webhook may go, Standard Webhooks signatures, the HTTP POST
"""

from jobs.services.webhooks.actions import delivery_get, delivery_redeliver, webhook_test
from jobs.services.webhooks.deliveries import deliveries_release_due, delivery_claim, delivery_record
from jobs.services.webhooks.endpoints import (
    callback_secret_ensure,
    endpoint_get,
    events_checked,
    url_checked,
    webhook_create,
    webhook_delete,
    webhook_rotate_secret,
    webhook_update,
)
from jobs.services.webhooks.messages import DELIVER_TASK, DISPATCH_TASK
from jobs.services.webhooks.outbox import (
    JobEvent,
    event_dispatch,
    hooks_apply,
    job_hooks,
    job_progress_event,
    job_progress_record,
    job_status_event,
    outboxes_recover,
    owner_endpoints,
)
from jobs.services.webhooks.runner import delivery_run, event_dispatch_run
from jobs.services.webhooks.direct_events import schedule_run_failed_event, workflow_ended_event
from jobs.services.webhooks.sending import delivery_try

__all__ = [
    "DELIVER_TASK", "DISPATCH_TASK", "JobEvent",
    "callback_secret_ensure", "deliveries_release_due", "delivery_claim", "delivery_get", "delivery_record", "delivery_redeliver",
    "delivery_run", "delivery_try", "endpoint_get", "event_dispatch", "event_dispatch_run", "events_checked", "hooks_apply",
    "job_hooks", "job_progress_event", "job_progress_record", "job_status_event", "outboxes_recover", "owner_endpoints", "schedule_run_failed_event", "url_checked", "workflow_ended_event", "webhook_create", "webhook_delete",
    "webhook_rotate_secret", "webhook_test", "webhook_update",
]
