"""Recovery of workflows: an end not told to every target, a plan cut short, a submission abandoned; found on sparse indexes.

A step's end too wide for its own transaction (or decided by another step's)
carries a cursor and sits on the NotifyIndex until its last link; a plan (start,
cancel, retry) sits on the header's plan index until its last link. Their
process normally finishes them at once; one older than the threshold lost its
process, and is carried on here, link by link, each conditional on its cursor
(safe on every machine at once). A submission that never started is deleted
once older than BATCHLAB_WORKFLOW_SUBMIT_GRACE_SECONDS. A step released but not
published is QUEUED: the jobs' own recovery publishes it.
"""

import time
from dataclasses import dataclass, field

from django.conf import settings

from jobs.services.store import logger
from jobs.services.workflows.graphs import header_read
from jobs.services.workflows.links import steps_tell_rest
from jobs.services.workflows.plans import SUBMIT, plan_run
from jobs.services.workflows.submission import workflow_rollback
from jobs.tables import NOTIFY_SHARD, PLAN_SHARD, Job, Workflow


@dataclass
class WorkflowRecovery:
    steps_told: list = field(default_factory=list)  # step job ids whose end was told on
    plans_finished: list = field(default_factory=list)  # workflow ids whose plan was carried on
    submissions_deleted: list = field(default_factory=list)


def workflows_recover(*, stale_seconds: int, limit: int = 500) -> WorkflowRecovery:
    """One pass: tell on the ends and carry on the plans older than `stale_seconds`; delete abandoned submissions."""
    report = WorkflowRecovery()
    now = time.time()
    for key in Job.notify_index.query(NOTIFY_SHARD, Job.notify_at < int(now - stale_seconds), limit=limit):
        steps_tell_rest([key.job_id])
        report.steps_told.append(key.job_id)
    for key in Workflow.plan_index.query(PLAN_SHARD, Workflow.plan_at < int(now - stale_seconds), limit=limit):
        try:
            header = header_read(key.workflow_id)
        except Workflow.DoesNotExist:
            continue
        try:
            if header.plan_kind in (SUBMIT, "rollback"):
                if (header.plan_at or 0) < now - settings.BATCHLAB_WORKFLOW_SUBMIT_GRACE_SECONDS and workflow_rollback(
                        key.workflow_id):
                    report.submissions_deleted.append(key.workflow_id)
                continue
            plan_run(key.workflow_id)
            report.plans_finished.append(key.workflow_id)
        except Exception as exc:  # the next pass tries again
            logger.warning("recovery: workflow %s's %s plan not finished yet (%s)", key.workflow_id, header.plan_kind, exc)
    if report.steps_told or report.plans_finished or report.submissions_deleted:
        logger.info("recovery: workflows %s", report.__dict__)
    return report
