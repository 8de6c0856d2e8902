"""Response bodies of workflows: a summary (listings), the whole workflow with its steps and edges, a list page.

As for jobs (jobs.serializers.response), each shape is a serializer that documents
it and a function that builds it; tests/jobs/test_api_schema.py checks both agree.
"""

import json

from rest_framework import serializers

from jobs.dag import POLICIES, step_job_id
from jobs.documents import iso as _iso
from jobs.serializers.response import JobErrorSerializer, TimelineEntrySerializer
from jobs.states import JobStatus, WorkflowStatus, is_final

RESULT_SUMMARY_CHARS = 120


class WorkflowSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField(help_text="Its path: /workflows/{id}.")
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=[s.value for s in WorkflowStatus])
    owner = serializers.CharField()
    steps_total = serializers.IntegerField(help_text="Its steps, callbacks not counted.")
    runs = serializers.IntegerField(help_text="1, and one more for each retry.")
    cancel_requested = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    schedule_id = serializers.UUIDField(allow_null=True, help_text="The schedule that fired it, if any.")


class WorkflowStepSerializer(serializers.Serializer):
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=["step", "on_success", "on_failure", "on_complete"])
    job_id = serializers.UUIDField()
    url = serializers.CharField(help_text="The step's job: /jobs/{id}.")
    type = serializers.CharField()
    status = serializers.ChoiceField(choices=[s.value for s in JobStatus], allow_null=True)
    needs = serializers.ListField(child=serializers.CharField())
    on_parent_failure = serializers.ChoiceField(choices=POLICIES)
    pending_parents = serializers.IntegerField(allow_null=True, help_text="While WAITING: parents not ended yet.")
    attempts = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    error = JobErrorSerializer(allow_null=True)
    result_summary = serializers.CharField(allow_null=True, help_text=f"Its result as JSON, cut to {RESULT_SUMMARY_CHARS} characters.")


class WorkflowSerializer(WorkflowSummarySerializer):
    updated_at = serializers.DateTimeField()
    canceled_at = serializers.DateTimeField(allow_null=True, help_text="When every step had been told of the cancel.")
    steps_done = serializers.IntegerField(help_text="Steps (callbacks included) in a final status.")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Steps (callbacks included) by status.")
    steps = WorkflowStepSerializer(many=True)
    edges = serializers.ListField(child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2),
                                  help_text="[parent, child] by step name.")
    timeline = TimelineEntrySerializer(many=True)


class WorkflowListPageSerializer(serializers.Serializer):
    results = WorkflowSummarySerializer(many=True)
    next = serializers.URLField(allow_null=True)
    next_cursor = serializers.CharField(allow_null=True)


def workflow_summary(header) -> dict:
    return {
        "id": header.workflow_id, "url": f"/workflows/{header.workflow_id}", "name": header.name, "status": header.status,
        "owner": header.owner or header.submitter or "", "steps_total": int(header.steps_total or 0),
        "runs": int(header.runs or 1), "cancel_requested": bool(header.cancel_requested),
        "created_at": _iso(header.created_at), "finished_at": _iso(header.finished_at), "schedule_id": header.schedule_id,
    }


def _result_summary(result) -> str | None:
    if result is None:
        return None
    text = json.dumps(result, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= RESULT_SUMMARY_CHARS else text[:RESULT_SUMMARY_CHARS - 1] + "…"


def workflow_step(workflow_id: str, graph, step, job) -> dict:
    duration = None
    if job is not None and job.started_at and job.finished_at:
        duration = round((job.finished_at - job.started_at).total_seconds(), 3)
    job_id = step_job_id(workflow_id, step.index)
    waiting = job is not None and job.status == JobStatus.WAITING
    return {
        "name": step.name, "role": step.role, "job_id": job_id, "url": f"/jobs/{job_id}", "type": step.type,
        "status": job.status if job is not None else None, "needs": [graph.steps[p].name for p in step.parents],
        "on_parent_failure": step.on_parent_failure,
        "pending_parents": int(job.pending_parents) if waiting and job.pending_parents is not None else None,
        "attempts": int(job.attempts or 0) if job is not None else 0,
        "started_at": _iso(job.started_at) if job is not None else None,
        "finished_at": _iso(job.finished_at) if job is not None else None, "duration_seconds": duration,
        "error": dict(job.error.as_dict()) if job is not None and job.error else None,
        "result_summary": _result_summary(job.result) if job is not None else None,
    }


def workflow_detail(view) -> dict:
    header, graph = view.header, view.graph
    steps = [workflow_step(header.workflow_id, graph, step, view.steps.get(step.index)) for step in graph.steps]
    counts: dict[str, int] = {}
    for step in steps:
        if step["status"]:
            counts[step["status"]] = counts.get(step["status"], 0) + 1
    data = workflow_summary(header)
    data.update(
        updated_at=_iso(header.updated_at), canceled_at=_iso(header.canceled_at),
        steps_done=sum(1 for s in steps if s["status"] and is_final(s["status"])), counts=counts, steps=steps,
        edges=[[graph.steps[p].name, graph.steps[c].name] for p, c in graph.edges],
        timeline=[{"at": _iso(e.at), "event": e.event, "status": e.status, "message": e.message, "worker": e.worker}
                  for e in (header.timeline or [])],
    )
    return data


def workflow_list_page(headers, *, next_url: str | None = None, next_cursor: str | None = None) -> dict:
    return {"results": [workflow_summary(h) for h in headers], "next": next_url, "next_cursor": next_cursor}
