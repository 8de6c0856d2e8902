"""POST/GET /workflows through DRF's test client on moto in-process: the bad-definition table, idempotency, reads."""

import json

import pytest
from rest_framework.test import APIClient

from jobs.dag import MAX_STEPS
from jobs.services import publishing
from jobs.tables import Job, Workflow

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]

DIAMOND = {"name": "diamond", "steps": {
    "a": {"type": "echo", "payload": {"n": 1}},
    "b": {"type": "echo", "needs": ["a"]},
    "c": {"type": "echo", "needs": ["a"]},
    "d": {"type": "echo", "needs": ["b", "c"]},
}}


@pytest.fixture(autouse=True)
def sent(monkeypatch):
    ids = []
    monkeypatch.setattr(publishing, "tasks_publish", lambda *, messages, **route: ids.extend(m[2] for m in messages))
    return ids


@pytest.fixture
def client(django_user_model) -> APIClient:
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("alice", password="pw"))
    return client


@pytest.fixture
def other(django_user_model) -> APIClient:
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("bob", password="pw"))
    return client


def post(client, body, **headers):
    return client.post("/workflows", body, format="json", headers=headers)


def refused(response, *fields) -> dict:
    assert response.status_code == 400, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "invalid_workflow", body
    for field in fields:
        assert field in body["errors"], (field, body["errors"])
    return body


def _chain(n: int) -> dict:
    return {f"s{i}": {"type": "echo", **({"needs": [f"s{i - 1}"]} if i else {})} for i in range(n)}


@pytest.mark.parametrize(("steps", "field", "words"), [
    ({"a": {"type": "echo", "needs": ["b"]}, "b": {"type": "echo", "needs": ["c"]}, "c": {"type": "echo", "needs": ["a"]}},
     "steps.a.needs", ["a → b → c → a", "cycle"]),
    ({"a": {"type": "echo", "needs": ["a"]}}, "steps.a.needs", ["itself"]),
    ({"a": {"type": "echo", "needs": ["ghost"]}}, "steps.a.needs", ["Unknown", "'ghost'"]),
    ({"not a slug!": {"type": "echo"}}, "steps.not a slug!", ["slug"]),
    ({"on_success": {"type": "echo"}}, "steps.on_success", ["callback"]),
    ({"a": {"type": "nope"}}, "steps.a.type", ["Unknown job type"]),
    ({"a": {"type": "sleep", "payload": {"seconds": 9999}}}, "steps.a.payload.seconds", ["less than or equal"]),
    ({"a": {"type": "echo", "paylod": {}}}, "steps.a.paylod", ["Unknown field"]),
    ({"a": {"type": "echo", "on_parent_failure": "ignore"}}, "steps.a.on_parent_failure", []),
    ({}, "steps", ["at least one"]),
    (_chain(MAX_STEPS + 1), "steps", [f"At most {MAX_STEPS} steps", "400 KB"]),
])
def test_a_bad_definition_is_refused_naming_its_cause(client, steps, field, words):
    body = refused(post(client, {"name": "bad", "steps": steps}), field)
    text = " ".join(body["errors"][field])
    assert all(w in text for w in words), text
    assert all(w in body["detail"] for w in words[:1]), body["detail"]
    assert list(Workflow.scan()) == [] and list(Job.scan()) == []  # all or nothing


def test_every_problem_is_listed_at_once(client):
    body = refused(post(client, {"name": "", "stepz": {}, "steps": {
        "a": {"type": "echo", "needs": ["x"]}, "b": {"type": "sleep", "payload": {}}}}), "name", "stepz", "steps.a.needs",
        "steps.b.payload.seconds")
    assert len(body["errors"]) == 4


def test_the_limit_is_500_steps_and_500_are_taken(client, sent):
    response = post(client, {"name": "wide", "steps": {"root": {"type": "echo"},
                                                       **{f"s{i}": {"type": "echo", "needs": ["root"]} for i in range(499)}}})
    assert response.status_code == 201, response.content[:300]
    assert response.json()["steps_total"] == 500


def test_submit_answers_201_with_every_step_and_the_edges(client, sent):
    response = post(client, DIAMOND)
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/workflows/{body['id']}"
    assert body["status"] == "RUNNING" and body["steps_total"] == 4
    assert {s["name"]: s["status"] for s in body["steps"]} == {"a": "QUEUED", "b": "WAITING", "c": "WAITING", "d": "WAITING"}
    assert sorted(map(tuple, body["edges"])) == [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    d = next(s for s in body["steps"] if s["name"] == "d")
    assert d["needs"] == ["b", "c"] and d["pending_parents"] == 2
    assert sent == [next(s["job_id"] for s in body["steps"] if s["name"] == "a")]


def test_an_idempotency_key_returns_the_same_workflow_and_refuses_another_body(client, sent):
    first = post(client, DIAMOND, **{"Idempotency-Key": "wf-1"})
    again = post(client, DIAMOND, **{"Idempotency-Key": "wf-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert len(list(Workflow.scan())) == 2  # one header and its graph
    other = post(client, {**DIAMOND, "name": "another"}, **{"Idempotency-Key": "wf-1"})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert len(sent) == 1


def test_reads_list_mine_newest_first_with_a_status_filter_and_hide_others(client, other):
    ids = [post(client, {**DIAMOND, "name": f"w{i}"}).json()["id"] for i in range(3)]
    listing = client.get("/workflows?limit=2").json()
    assert [w["id"] for w in listing["results"]] == ids[::-1][:2]
    rest = client.get(f"/workflows?limit=2&cursor={listing['next_cursor']}").json()
    assert [w["id"] for w in rest["results"]] == [ids[0]]
    assert client.get("/workflows?status=COMPLETED").json()["results"] == []
    assert len(client.get("/workflows?status=RUNNING").json()["results"]) == 3
    assert other.get("/workflows").json()["results"] == []
    assert other.get(f"/workflows/{ids[0]}").json()["code"] == "workflow_not_found"
    assert client.get("/workflows/not-an-id").status_code == 404


def test_a_steps_job_names_its_workflow_parents_and_children(client):
    body = post(client, DIAMOND).json()
    b = next(s for s in body["steps"] if s["name"] == "b")
    job = client.get(f"/jobs/{b['job_id']}").json()
    assert job["status"] == "WAITING"
    assert job["workflow"]["id"] == body["id"] and job["workflow"]["step"] == "b"
    assert [p["step"] for p in job["workflow"]["parents"]] == ["a"]
    assert [c["step"] for c in job["workflow"]["children"]] == ["d"]


def test_staff_list_every_workflow_with_its_owner(client, django_user_model):
    staff = APIClient()
    staff.force_authenticate(django_user_model.objects.create_user("root", password="pw", is_staff=True))
    wf = post(client, DIAMOND).json()
    listed = staff.get("/workflows").json()["results"]
    assert [(w["id"], w["owner"]) for w in listed] == [(wf["id"], "alice")]
    assert staff.get(f"/workflows/{wf['id']}").json()["owner"] == "alice"


def test_the_readmes_diamond_is_taken_as_written(client, sent):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Workflows: jobs that wait for jobs", 1)[1]
    body = json.loads(section.split("-d '", 1)[1].split("'\n", 1)[0])
    response = post(client, body)
    assert response.status_code == 201, response.content[:300]
    assert sorted(s["name"] for s in response.json()["steps"]) == ["a", "b", "c", "d", "on_failure"]
