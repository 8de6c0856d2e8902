"""schedule.run_failed for a run that made no job: its deliveries written in the same transaction as the failed run's log entry.

A run whose job ends FAILED raises the event through that job's outbox
(outbox.job_status_event). A firing given up before any job existed has no job
to carry an outbox: the delivery items themselves are the record, put in the
TransactWriteItems that logs the failed run (jobs.services.schedules.scheduler),
due now on the due index, so a lost message is released by the due sweep.
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
class RunFailedEvent:
    """The deliveries of one schedule.run_failed event (unsaved: the caller's transaction saves them) and what follows."""

    deliveries: list[WebhookDelivery] = field(default_factory=list)

    def committed(self) -> None:
        """The transaction applied: one message per delivery (a lost one is released by the due sweep)."""
        for delivery in self.deliveries:
            try:
                deliver_publish(hook_id=delivery.hook_id, event_id=delivery.event_id)
            except QueueUnavailable:
                return


def schedule_run_failed_event(*, owner: str, schedule_id: str, schedule_name: str, due_at: int, message: str) -> RunFailedEvent:
    """The deliveries to `owner`'s enabled endpoints subscribed to schedule.run_failed (one consistent Query of them)."""
    targets = [r for r in owner_endpoints(owner=owner)
               if r.kind == ENDPOINT and r.state == ENABLED and events.SCHEDULE_RUN_FAILED in (r.events or [])]
    if not targets:
        return RunFailedEvent()
    now = time.time()
    event_id = events.new_event_id(now=now)
    body = event_json(event_type=events.SCHEDULE_RUN_FAILED, at=now, data=schedule_run_data(
        schedule_id=schedule_id, schedule_name=schedule_name, due_at=due_at, message=message))
    return RunFailedEvent(deliveries=[
        delivery_new(hook_id=r.hook_id, owner=owner, event_id=event_id, event_type=events.SCHEDULE_RUN_FAILED, body=body, now=now)[0]
        for r in targets
    ])
