"""Schedules that fire a workflow, on moto in-process (DynamoDB and S3) through DRF's test client and the scheduler's
tick with an injected clock: created with a definition checked as POST /workflows checks it, each due time one
workflow (once, whatever the schedulers), its runs, the skip policy on a running workflow, run now, an edit, a delete."""

import pytest
from rest_framework.test import APIClient

from jobs import objects, services, timing
from jobs.services import publishing
from jobs.services.schedules import scheduler
from jobs.tables import WORKFLOW_SK, Workflow
from jobs.tables.schedules import Schedule
from tests.jobs.workflow_helpers import end, statuses

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]

NIGHTLY = {"name": "nightly", "steps": {
    "extract": {"type": "echo", "payload": {"n": 1}},
    "score": {"type": "checksum", "items": ["a", "b", "c"], "needs": ["extract"]},
    "report": {"type": "collect", "needs": ["extract", "score"]}}}


@pytest.fixture(autouse=True)
def sent(monkeypatch):
    out = []
    monkeypatch.setattr(publishing, "tasks_publish", lambda *, messages, **route: out.extend(m[2] for m in messages))
    monkeypatch.setattr(publishing, "chunks_publish", lambda *, job_id, numbers, **route: out.extend(numbers) or 0)
    return out


@pytest.fixture
def client(django_user_model) -> APIClient:
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("alice", password="pw"))
    return client


def create(client, **fields):
    body = {"name": "nightly report", "workflow": NIGHTLY, "interval_seconds": 60, **fields}
    return client.post("/schedules", body, format="json")


def test_a_schedule_fires_its_workflow_once_per_due_time_and_lists_its_runs_as_workflows(client):
    made = create(client)
    assert made.status_code == 201, made.content[:500]
    body = made.json()
    assert body["type"] is None and body["workflow"] == {"name": "nightly", "steps": 3}
    schedule = Schedule.get(body["id"])
    assert schedule.workflow_object and objects.json_get(key=schedule.workflow_object)["name"] == "nightly"
    due = int(schedule.next_run_at)
    first, second = services.schedules_tick(now=due + 0.1), services.schedules_tick(now=due + 0.2)
    run_id = timing.run_job_id(schedule_id=schedule.schedule_id, due_at=due)
    assert [f[2] for f in first.fired] == [run_id] and second.fired == []
    header = Workflow.get(run_id, WORKFLOW_SK)
    assert header.status == "RUNNING" and header.schedule_id == schedule.schedule_id and header.submitter == "alice"
    assert statuses(run_id) == {"extract": "QUEUED", "score": "WAITING", "report": "WAITING"}
    # A scheduler that fires the same due time again (it died before recording it) makes no second workflow.
    scheduler.schedule_job_create(schedule=Schedule.get(schedule.schedule_id), job_id=run_id, due_at=due)
    assert len([w for w in Workflow.scan() if w.sk == WORKFLOW_SK]) == 1
    detail = client.get(f"/schedules/{schedule.schedule_id}").json()
    assert detail["runs"][0]["job_id"] == run_id and detail["runs"][0]["job_url"] == f"/workflows/{run_id}"
    assert detail["runs"][0]["status"] == "RUNNING"
    listed = client.get("/schedules").json()["results"][0]
    assert listed["last_run"]["status"] == "RUNNING" and listed["workflow"]["steps"] == 3


def test_skip_holds_while_its_workflow_runs_and_fires_once_it_ended(client):
    schedule = Schedule.get(create(client).json()["id"])
    due = int(schedule.next_run_at)
    services.schedules_tick(now=due)
    run_id = timing.run_job_id(schedule_id=schedule.schedule_id, due_at=due)
    assert services.schedules_tick(now=due + 60).skipped == [(schedule.schedule_id, due + 60)]
    ran = client.post(f"/schedules/{schedule.schedule_id}/run")
    assert ran.status_code == 409 and ran.json()["code"] == "schedule_state_conflict"
    Workflow(run_id, WORKFLOW_SK).update(actions=[Workflow.status.set("COMPLETED")])
    assert len(services.schedules_tick(now=due + 120).fired) == 1


def test_run_now_answers_the_workflow_and_its_steps_run(client, sent):
    schedule_id = create(client).json()["id"]
    ran = client.post(f"/schedules/{schedule_id}/run")
    assert ran.status_code == 202, ran.content[:300]
    workflow = ran.json()
    assert ran["Location"] == f"/workflows/{workflow['id']}" and workflow["status"] == "RUNNING"
    extract = next(s for s in workflow["steps"] if s["name"] == "extract")
    assert sent == [extract["job_id"]]
    end(workflow["id"], "extract")
    assert statuses(workflow["id"])["score"] == "QUEUED"
    assert sent == [extract["job_id"], 1]  # the item step's one chunk went out at its release


@pytest.mark.parametrize(("workflow", "field"), [
    ({"name": "loop", "steps": {"a": {"type": "echo", "needs": ["a"]}}}, "workflow.steps.a.needs"),
    ({"name": "bad", "steps": {"a": {"type": "nope"}}}, "workflow.steps.a.type"),
    ({"steps": {"a": {"type": "echo"}}}, "workflow.name"),
])
def test_a_bad_definition_is_refused_under_workflow(client, workflow, field):
    refused = create(client, workflow=workflow)
    assert refused.status_code == 400 and refused["Content-Type"].startswith("application/problem+json")
    assert field in refused.json()["errors"], refused.json()
    assert not list(Schedule.scan())


def test_a_type_or_payload_with_a_workflow_is_refused_by_name(client):
    refused = create(client, type="echo", payload={"n": 1})
    assert refused.status_code == 400
    assert {"type", "payload"} <= set(refused.json()["errors"]), refused.json()


def test_an_edit_replaces_the_definition_for_the_next_run_and_a_delete_removes_it(client):
    schedule = Schedule.get(create(client).json()["id"])
    old = schedule.workflow_object
    changed = {"name": "smaller", "steps": {"only": {"type": "echo"}}}
    edited = client.patch(f"/schedules/{schedule.schedule_id}", {"workflow": changed, "interval_seconds": 120}, format="json")
    assert edited.status_code == 200, edited.content[:400]
    assert edited.json()["workflow"] == {"name": "smaller", "steps": 1} and edited.json()["interval_seconds"] == 120
    changes = {key: value for edit in edited.json()["history"] for key, value in (edit["changes"] or {}).items()}
    assert changes["workflow"] == ["nightly (3 steps)", "smaller (1 steps)"] and changes["interval_seconds"] == [60, 120]
    stored = Schedule.get(schedule.schedule_id)
    assert stored.workflow_object != old
    with pytest.raises(Exception):
        objects.json_get(key=old)
    ran = client.post(f"/schedules/{schedule.schedule_id}/run").json()
    assert [s["name"] for s in ran["steps"]] == ["only"]
    assert client.patch(f"/schedules/{schedule.schedule_id}", {"type": "echo"}, format="json").status_code == 400
    assert client.delete(f"/schedules/{schedule.schedule_id}").status_code == 204
    with pytest.raises(Exception):
        objects.json_get(key=stored.workflow_object)


def test_a_new_definition_is_not_refused_because_a_scheduler_fired_between_the_read_and_the_write(client, monkeypatch):
    from jobs.services.schedules import actions

    schedule = Schedule.get(create(client).json()["id"])
    old, reads = schedule.workflow_object, []
    read = actions.schedule_get_visible

    def read_then_a_tick(**kw):
        found = read(**kw)
        if not reads:  # a run fired (its claim moves the version) between this edit's read and its write
            Schedule(schedule.schedule_id).update(actions=[Schedule.version.add(1), Schedule.fired_count.add(1)])
        reads.append(found.version)
        return found

    monkeypatch.setattr(actions, "schedule_get_visible", read_then_a_tick)
    edited = client.patch(f"/schedules/{schedule.schedule_id}", {"workflow": {"name": "smaller", "steps": {"only": {"type": "echo"}}}},
                          format="json")
    assert edited.status_code == 200, edited.content[:400]
    stored = Schedule.get(schedule.schedule_id, consistent_read=True)
    assert stored.workflow_name == "smaller" and stored.fired_count == 1 and stored.version == schedule.version + 2
    assert len(reads) == 2  # the first read lost to the tick; the second was written
    with pytest.raises(Exception):
        objects.json_get(key=old)  # the definition it replaced is gone, the new one kept
    assert objects.json_get(key=stored.workflow_object)["name"] == "smaller"
