"""The OpenAPI document names real bodies and every endpoint's problem+json errors; the shapes match what is sent."""

from datetime import datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from jobs.queues import DeadLetter
from jobs.serializers import (
    DeadLetterPageSerializer,
    JobListPageSerializer,
    JobSerializer,
    JobTypeCatalogueSerializer,
    dead_letter_page,
    job_detail,
    job_list_page,
    job_type_catalogue,
)
from jobs.serializers.response import JobErrorSerializer, ProgressSerializer, TimelineEntrySerializer
from jobs.tables import Job, TimelineEntry

PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def component(schema: dict, ref: str) -> dict:
    assert ref.startswith("#/components/schemas/"), ref
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


def body_schema(schema: dict, path: str, method: str, status: str) -> dict:
    content = schema["paths"][path][method]["responses"][status]["content"]
    return component(schema, content["application/json"]["schema"]["$ref"])


def test_post_jobs_201_is_a_job_with_its_fields(schema):
    job = body_schema(schema, "/jobs", "post", "201")
    assert {"id", "status", "name", "type", "payload", "result", "timeline", "progress", "version"} <= set(job["properties"])
    assert body_schema(schema, "/jobs", "post", "200") == job  # an Idempotency-Key replay


def test_get_jobs_200_is_a_page_of_job_summaries(schema):
    page = body_schema(schema, "/jobs", "get", "200")
    assert set(page["properties"]) == {"results", "next", "next_cursor"}
    summary = component(schema, page["properties"]["results"]["items"]["$ref"])
    assert {"id", "status", "name", "progress", "error"} <= set(summary["properties"])
    assert "payload" not in summary["properties"]


def test_every_operation_lists_its_problem_json_errors(schema):
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) >= 10  # jobs, job types, dead letters, workers; more as the API grows
    assert sum(path.startswith("/schedules") for path, _, _ in operations) == 10  # with the items file endpoints
    item_paths = [path for path, _, _ in operations
                  if path.startswith(("/jobs/bulk", "/jobs/files")) or path.endswith(("/chunks", "/items", "/results"))]
    assert sorted(item_paths) == ["/jobs/bulk", "/jobs/files", "/jobs/{job_id}/chunks", "/jobs/{job_id}/items",
                                  "/jobs/{job_id}/results", "/schedules/{schedule_id}/items"]
    for path, method, op in operations:
        problems = {status for status, response in op["responses"].items() if PROBLEM_JSON in response.get("content", {})}
        assert "401" in problems, (method, path, sorted(op["responses"]))
        for status in problems:
            ref = op["responses"][status]["content"][PROBLEM_JSON]["schema"]["$ref"]
            assert set(component(schema, ref)["required"]) == {"type", "title", "status", "code", "detail"}
            assert "`" in op["responses"][status]["description"], (method, path, status)  # names its codes
    submit = {s for s, r in schema["paths"]["/jobs"]["post"]["responses"].items() if PROBLEM_JSON in r.get("content", {})}
    assert {"400", "401", "413", "415", "422", "503"} <= submit


def test_the_document_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "jobs_submit" in (tmp_path / "schema.yaml").read_text()


def a_job() -> Job:
    at = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    return Job(
        job_id="0b6f3c1e-9a4b-4c1e-8f7a-2b1c3d4e5f60", name="n", type="checksum", payload={"items": ["a"]},
        status="FAILED", owner="alice", created_at=at, updated_at=at + timedelta(seconds=3), started_at=at + timedelta(seconds=1),
        finished_at=at + timedelta(seconds=2.5), available_at=0, attempts=1, max_attempts=3, result=None,
        error={"code": "permanent_error", "message": "no"}, progress_done=1, progress_total=2, cancel_requested=False,
        version=4, timeline=[TimelineEntry(at=at, event="submitted", status="QUEUED", message="by alice", worker=None)],
    )


def test_a_job_renders_exactly_as_before():
    # The page's JS and every client read these keys and formats (a job stored before priorities is normal).
    assert job_detail(a_job()) == {
        "id": "0b6f3c1e-9a4b-4c1e-8f7a-2b1c3d4e5f60", "url": "/jobs/0b6f3c1e-9a4b-4c1e-8f7a-2b1c3d4e5f60",
        "name": "n", "type": "checksum", "status": "FAILED", "owner": "alice", "attempts": 1, "max_attempts": 3,
        "progress": {"done": 1, "total": 2}, "cancel_requested": False,
        "error": {"code": "permanent_error", "message": "no"},
        "created_at": "2025-01-02T03:04:05.678000Z", "updated_at": "2025-01-02T03:04:08.678000Z",
        "started_at": "2025-01-02T03:04:06.678000Z", "finished_at": "2025-01-02T03:04:08.178000Z",
        "duration_seconds": 1.5, "version": 4, "run_at": None, "schedule_id": None, "schedule_url": None, "items": None,
        "priority": "normal", "concurrency_key": None, "waiting_for": None, "waiting_since": None,
        "workflow_id": None, "step": None, "workflow": None,
        "payload": {"items": ["a"]}, "result": None, "expires_at": None,
        "timeline": [{"at": "2025-01-02T03:04:05.678000Z", "event": "submitted", "status": "QUEUED", "message": "by alice", "worker": None}],
    }


def test_the_schema_serializers_have_exactly_the_fields_that_are_sent():
    job = job_detail(a_job())
    assert list(job) == list(JobSerializer().fields)
    assert list(job["progress"]) == list(ProgressSerializer().fields)
    assert list(job["error"]) == list(JobErrorSerializer().fields)
    assert list(job["timeline"][0]) == list(TimelineEntrySerializer().fields)
    page = job_list_page([a_job()], next_url=None, next_cursor="c")
    assert list(page) == list(JobListPageSerializer().fields)
    assert list(page["results"][0]) == list(JobListPageSerializer().fields["results"].child.fields)
    from jobs.selectors.flow import TypeView
    from jobs.handlers.registry import job_types

    catalogue = job_type_catalogue([TypeView(job_type=t, limits=t.limits) for t in job_types()])
    assert list(catalogue) == list(JobTypeCatalogueSerializer().fields)
    assert list(catalogue["results"][0]) == list(JobTypeCatalogueSerializer().fields["results"].child.fields)
    letter = DeadLetter(message_id="m", receipt_handle="r", job_id=None, receive_count=5, sent_at="1", body_preview="")
    depth = {"visible": 0, "in_flight": 0, "delayed": 0}
    counts = {"queue": depth, "dead_letter": depth, "priorities": {"high": {"queue": depth, "dead_letter": depth}}}
    letters = dead_letter_page(counts=counts, letters=[letter])
    assert list(letters) == list(DeadLetterPageSerializer().fields)
    assert list(letters["results"][0]) == list(DeadLetterPageSerializer().fields["results"].child.fields)


def test_the_schedule_serializers_have_exactly_the_fields_that_are_sent():
    from jobs.selectors.schedules import ScheduleView
    from jobs.serializers.schedules import ScheduleListSerializer, ScheduleSerializer, schedule_detail, schedule_summary
    from jobs.services.schedules.log import edit_entry, last_run, run_entry
    from jobs.tables.schedules import Schedule

    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    job = a_job()
    schedule = Schedule(
        schedule_id="5d7c3b1e-9a4b-4c1e-8f7a-2b1c3d4e5f60", name="s", owner="alice", type="echo", payload={},
        interval_seconds=60, timezone="UTC", overlap="skip", paused=False, next_run_at=at.timestamp() + 60,
        created_at=at, updated_at=at, version=2,
    )
    run = run_entry(schedule.schedule_id, due_at=int(at.timestamp()), outcome="fired", job_id=job.job_id)
    schedule.last_run = last_run(run)
    view = ScheduleView(schedule=schedule, jobs={job.job_id: job}, runs=[run],
                        history=[edit_entry(schedule.schedule_id, actor="alice", action="created")])
    detail = schedule_detail(view, now=at.timestamp())
    assert list(detail) == list(ScheduleSerializer().fields)
    assert list(detail["runs"][0]) == list(ScheduleSerializer().fields["runs"].child.fields)
    assert list(detail["history"][0]) == list(ScheduleSerializer().fields["history"].child.fields)
    assert list(schedule_summary(view)) == list(ScheduleListSerializer().fields["results"].child.fields)
    assert detail["next_run_in_seconds"] == 60 and detail["last_run"]["status"] == "FAILED" and detail["success_rate"] == 0.0


def test_the_workflow_serializers_have_exactly_the_fields_that_are_sent():
    from jobs.dag import StepSpec, dag_build
    from jobs.selectors.workflows import WorkflowView
    from jobs.serializers.workflows import WorkflowListPageSerializer, WorkflowSerializer, workflow_detail, workflow_list_page
    from jobs.tables import Workflow

    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    graph = dag_build([StepSpec(name="a", type="echo"), StepSpec(name="b", type="echo", needs=("a",))])
    header = Workflow("3c9e1f20-5d1a-4b7e-8f3a-6a2b1c0d9e77", name="w", status="RUNNING", submitter="alice", owner="alice",
                      created_at=at, updated_at=at, steps_total=2, sinks_pending=1,
                      timeline=[TimelineEntry(at=at, event="submitted", status="SUBMITTING", message="m", worker=None)])
    job = a_job()
    job.step_index, job.workflow_id = 0, header.workflow_id
    detail = workflow_detail(WorkflowView(header=header, graph=graph, steps={0: job}))
    assert list(detail) == list(WorkflowSerializer().fields)
    assert list(detail["steps"][0]) == list(WorkflowSerializer().fields["steps"].child.fields)
    assert detail["steps"][1]["status"] is None and detail["edges"] == [["a", "b"]]
    page = workflow_list_page([header], next_cursor="c")
    assert list(page) == list(WorkflowListPageSerializer().fields)
    assert list(page["results"][0]) == list(WorkflowListPageSerializer().fields["results"].child.fields)
