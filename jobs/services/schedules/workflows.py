"""A schedule that fires a workflow: its definition in S3, each run one workflow under the run's derived id.

The definition (as POST /workflows validated it: its name, its steps, the body)
is stored in S3, not on the schedule item, which every firing rewrites and four
indexes copy; the schedule keeps its key, the workflow's name and its step count.
A run is created once whatever the schedulers do: its workflow id is derived
from (schedule, due time) and workflow_submit with a given id finishes a
submission another scheduler began instead of making a second one.
"""

import uuid

from pynamodb.exceptions import GetError, PynamoDBConnectionError

from jobs import objects
from jobs.services.store import logger, store_error
from jobs.services.workflows.graphs import header_read
from jobs.services.workflows.submission import workflow_submit
from jobs.states import FINAL_WORKFLOW_STATUSES
from jobs.tables import Workflow
from jobs.tables.schedules import Schedule

# The Type of a schedule that fires a workflow (a job type's name is a slug without a space: none is this).
WORKFLOW_TYPE = "(workflow)"


def workflow_definition_stored(definition: dict) -> dict:
    """What is kept of a validated definition: its name, its validated steps and the body (no graph object)."""
    return {"name": definition["name"], "steps": definition["steps"], "body": definition["body"]}


def schedule_workflow_store(*, schedule_id: str, definition: dict) -> dict:
    """Store a validated definition (one PutObject); returns the schedule's fields that name it."""
    key = f"schedules/{schedule_id}/workflow-{uuid.uuid4().hex}.json"
    objects.json_put(key=key, value=workflow_definition_stored(definition))
    regular = sum(1 for step in definition["steps"] if step.get("role", "step") == "step")
    return {"workflow_object": key, "workflow_name": definition["name"], "workflow_steps": regular}


def schedule_workflow_delete(*, workflow_object: str | None) -> None:
    if workflow_object:
        try:
            objects.objects_delete(keys=[workflow_object])
        except Exception as exc:  # an orphan at worst
            logger.warning("the workflow definition %s could not be deleted: %s", workflow_object, exc)


def schedule_workflow_create(*, schedule: Schedule, workflow_id: str) -> Workflow:
    """The workflow of one run of the schedule (once: the id is derived), started; returns its header."""
    definition = objects.json_get(key=schedule.workflow_object)
    header, created = workflow_submit(owner=schedule.owner, definition=definition, schedule_id=schedule.schedule_id,
                                      workflow_id=workflow_id)
    if created:
        logger.info("schedule %s fired workflow %s", schedule.schedule_id, workflow_id)
    return header


def workflow_run_going(schedule: Schedule) -> bool:
    """Whether the schedule's last workflow exists and is not final (one GetItem)."""
    try:
        return header_read(schedule.last_job_id).status not in FINAL_WORKFLOW_STATUSES
    except Workflow.DoesNotExist:
        return False
    except (GetError, PynamoDBConnectionError) as exc:
        raise store_error(exc) from exc
