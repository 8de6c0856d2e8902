"""Events no job's outbox carries: their deliveries written in the same transaction as the change that raises them.

- schedule.run_failed of a run given up before any job existed (a run whose job
  ends FAILED raises it through that job's outbox: outbox.job_status_event): its
  deliveries go in the TransactWriteItems that logs the failed run
  (jobs.services.schedules.scheduler);
- workflow.completed, workflow.failed, workflow.canceled: in the transaction that
  ends the workflow (the write that tells its end last, jobs.services.workflows.release).

The delivery items themselves are the record, due now on the due index, so a
lost message is released by the due sweep; nothing is written unless the
transaction applies.
"""

import time
from dataclasses import dataclass, field

from jobs import events
from jobs.documents import schedule_run_data
from jobs.exceptions import QueueUnavailable
from jobs.services.webhooks.deliveries import delivery_new
from jobs.services.webhooks.endpoints import ENABLED, ENDPOINT
from jobs.services.webhooks.messages import deliver_publish
from jobs.services.webhooks.outbox import event_json, owner_endpoints
from jobs.tables import WebhookDelivery


@dataclass
class DirectEvent:
    """The deliveries of one event (unsaved: the caller's transaction saves them) and what follows its commit."""

    deliveries: list[WebhookDelivery] = field(default_factory=list)

    def ops(self) -> list:
        """Operations that add each delivery to a TransactWrite (a new item: its key is the new event's id)."""
        return [lambda tx, d=d: tx.save(d, condition=WebhookDelivery.event_id.does_not_exist()) for d in self.deliveries]

    def committed(self) -> None:
        """The transaction applied: one message per delivery (a lost one is released by the due sweep)."""
        for delivery in self.deliveries:
            try:
                deliver_publish(hook_id=delivery.hook_id, event_id=delivery.event_id)
            except QueueUnavailable:
                return


def direct_event(*, owner: str, event_type: str, data: dict) -> DirectEvent:
    """The deliveries of `event_type` to `owner`'s enabled endpoints subscribed to it (one consistent Query of them)."""
    targets = [r for r in owner_endpoints(owner=owner)
               if r.kind == ENDPOINT and r.state == ENABLED and event_type in (r.events or [])]
    if not targets:
        return DirectEvent()
    now = time.time()
    event_id = events.new_event_id(now=now)
    body = event_json(event_type=event_type, at=now, data=data)
    return DirectEvent(deliveries=[
        delivery_new(hook_id=r.hook_id, owner=owner, event_id=event_id, event_type=event_type, body=body, now=now)[0]
        for r in targets
    ])


def schedule_run_failed_event(*, owner: str, schedule_id: str, schedule_name: str, due_at: int, message: str) -> DirectEvent:
    """schedule.run_failed of a run that made no job."""
    return direct_event(owner=owner, event_type=events.SCHEDULE_RUN_FAILED, data=schedule_run_data(
        schedule_id=schedule_id, schedule_name=schedule_name, due_at=due_at, message=message))


def workflow_ended_event(*, owner: str, status: str, data: dict) -> DirectEvent:
    """workflow.<status> (completed, failed, canceled) of a workflow whose end is being written; `data` as
    jobs.documents.workflow_event_data makes it."""
    event_type = events.workflow_event_for(status)
    return direct_event(owner=owner, event_type=event_type, data=data) if event_type else DirectEvent()
