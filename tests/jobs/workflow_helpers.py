"""Helpers of the workflow unit tests: submit a definition, end a step as its worker's final write would, read statuses."""

import uuid

from pynamodb.transactions import TransactWrite

from jobs.dag import step_job_id
from jobs.serializers.workflow_request import workflow_definition_read
from jobs.services.workflows.effects import step_end
from jobs.selectors.workflows import steps_read
from jobs.services.workflows.graphs import graph_of, header_read
from jobs.services.workflows.submission import workflow_submit
from jobs.states import COMPLETE, FAIL, STOP_CANCELED, JobStatus
from jobs.tables import JOB_SK, Job

ENDS = {JobStatus.COMPLETED: COMPLETE, JobStatus.FAILED: FAIL, JobStatus.CANCELED: STOP_CANCELED}


def submit(body: dict, owner: str = "alice", **kw):
    header, created = workflow_submit(owner=owner, definition=workflow_definition_read(body, owner=owner), **kw)
    return header


def job_of(workflow_id: str, name: str) -> Job:
    return Job.get(step_job_id(workflow_id, graph_of(workflow_id).step(name).index), JOB_SK, consistent_read=True)


def statuses(workflow_id: str) -> dict[str, str]:
    graph = graph_of(workflow_id)
    found = steps_read(workflow_id, range(len(graph.steps)))
    return {s.name: found[s.index].status for s in graph.steps}


def end(workflow_id: str, name: str, status: str = JobStatus.COMPLETED, result=None, *, commit=True):
    """Claim-free: the step goes QUEUED -> PROCESSING, then its final write with what its end carries, in one transaction."""
    job = job_of(workflow_id, name)
    assert job.status == JobStatus.QUEUED, (name, job.status)
    token = uuid.uuid4().hex
    job.update(actions=[Job.status.set(JobStatus.PROCESSING), Job.claim_token.set(token)])
    transition = ENDS[status]
    carried = step_end(job=job, transition=transition)
    actions = [Job.status.set(status), Job.result.set(result if result is not None else {"step": name})]
    with TransactWrite(connection=Job._get_connection().connection) as tx:
        tx.update(Job(job.job_id, JOB_SK), actions=actions + (carried.actions if carried else []),
                  condition=Job.claim_token == token)
        for op in (carried.also if carried else []):
            op(tx)
    if commit and carried:
        for call in carried.after_commit:
            call()
    return carried


def workflow_status(workflow_id: str) -> str:
    return header_read(workflow_id).status


def run_published(sent: list, *, worker: str = "w") -> list:
    """Run every job published so far (and those their ends publish) through the real runner; returns the outcomes."""
    from jobs import services

    outcomes = []
    while sent:
        outcomes.append(services.job_execute(job_id=sent.pop(0), worker=worker))
    return outcomes
