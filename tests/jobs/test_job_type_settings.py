"""GET/PATCH /job-types/{type}, pause and resume: staff edit, users see, every bad input refused, each edit in the history."""

import pytest
from rest_framework.test import APIClient

from jobs import selectors
from jobs.tables import EDITS_PREFIX, TypeSettingsEdit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws", "fresh_type_settings")]


@pytest.fixture
def staff(django_user_model) -> APIClient:
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("root", password="pw", is_staff=True))
    return client


@pytest.fixture
def user(django_user_model) -> APIClient:
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("alice", password="pw"))
    return client


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:400])
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    return response.json()


def test_a_type_shows_its_declared_defaults_until_staff_edit_it(user):
    body = user.get("/job-types/sleep").json()
    assert body["settings"] == body["defaults"] == {"paused": False, "priority": "normal", "concurrency_limit": None,
                                                     "rate_limit": None, "key_concurrency_limit": None, "key_rate_limit": None}
    assert body["customized"] is False and body["version"] == 0 and body["history"] == []


def test_staff_edit_every_field_and_each_edit_is_recorded(staff, user):
    response = staff.patch("/job-types/echo", {"concurrency_limit": 2, "rate_limit": "600/minute", "priority": "high"},
                           format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["settings"]["concurrency_limit"] == 2
    assert body["settings"]["rate_limit"] == "600/min"  # stored in its own notation
    assert body["settings"]["priority"] == "high" and body["customized"] and body["version"] == 1
    assert body["history"][0]["actor"] == "root" and body["history"][0]["action"] == "edit"
    assert body["history"][0]["changes"] == {"concurrency_limit": [None, 2], "rate_limit": [None, "600/min"],
                                             "priority": ["normal", "high"]}
    assert staff.post("/job-types/echo/pause").json()["settings"]["paused"] is True
    second = staff.patch("/job-types/echo", {"concurrency_limit": None, "key_concurrency_limit": 1}, format="json").json()
    assert second["settings"]["concurrency_limit"] is None and second["settings"]["key_concurrency_limit"] == 1
    assert second["settings"]["paused"] is True and second["version"] == 3
    assert [e["action"] for e in second["history"]] == ["edit", "pause", "edit"]  # newest first
    assert len(list(TypeSettingsEdit.query(f"{EDITS_PREFIX}echo"))) == 3
    # Users see the settings, not who changed them.
    seen = user.get("/job-types/echo").json()
    assert seen["settings"] == second["settings"] and seen["history"] == [] and seen["updated_by"] is None
    catalogue = {t["name"]: t for t in user.get("/job-types").json()["results"]}
    assert catalogue["echo"]["settings"]["paused"] is True and catalogue["sleep"]["settings"]["paused"] is False


def test_an_edit_that_changes_nothing_writes_nothing(staff):
    staff.patch("/job-types/echo", {"rate_limit": "5/s"}, format="json")
    again = staff.patch("/job-types/echo", {"rate_limit": "5/second"}, format="json").json()
    assert again["version"] == 1 and len(again["history"]) == 1


def test_resume_undoes_pause_and_this_process_sees_it_at_once(staff):
    staff.post("/job-types/sleep/pause")
    assert selectors.type_limits(type="sleep").paused is True
    staff.post("/job-types/sleep/resume")
    assert selectors.type_limits(type="sleep").paused is False


@pytest.mark.parametrize("body, fields", [
    ({"rate_limit": "0/s"}, ["rate_limit"]),
    ({"rate_limit": "ten/s"}, ["rate_limit"]),
    ({"key_rate_limit": "5/fortnight"}, ["key_rate_limit"]),
    ({"concurrency_limit": -1}, ["concurrency_limit"]),
    ({"concurrency_limit": 0}, ["concurrency_limit"]),
    ({"key_concurrency_limit": "2"}, ["key_concurrency_limit"]),
    ({"concurrency_limit": True}, ["concurrency_limit"]),
    ({"priority": "urgent"}, ["priority"]),
    ({"paused": "yes"}, ["paused"]),
    ({"concurency_limit": 2}, ["concurency_limit"]),
    ({"rate_limit": 5, "priority": "urgent", "extra": 1}, ["extra", "priority", "rate_limit"]),
])
def test_bad_settings_are_refused_each_named(staff, body, fields):
    body_of = problem(staff.patch("/job-types/echo", body, format="json"), 400, "validation_error")
    assert sorted(body_of["errors"]) == fields
    assert staff.get("/job-types/echo").json()["version"] == 0  # nothing stored


def test_only_staff_change_settings(user):
    problem(user.patch("/job-types/echo", {"paused": True}, format="json"), 403, "permission_denied")
    problem(user.post("/job-types/echo/pause"), 403, "permission_denied")
    problem(user.post("/job-types/echo/resume"), 403, "permission_denied")
    assert user.get("/job-types/echo").json()["settings"]["paused"] is False


def test_an_unknown_type_is_404_for_every_verb(staff):
    for response in (staff.get("/job-types/nope"), staff.patch("/job-types/nope", {"paused": True}, format="json"),
                     staff.patch("/job-types/nope", {"rate_limit": "0/s"}, format="json"), staff.post("/job-types/nope/pause")):
        body = problem(response, 404, "job_type_not_found")
        assert "echo" in body["known_types"]


def test_anonymous_requests_are_401():
    problem(APIClient().get("/job-types/echo"), 401, "not_authenticated")


def test_a_job_takes_its_type_default_priority_and_a_bad_priority_is_refused(staff, user, published):
    staff.patch("/job-types/echo", {"priority": "low"}, format="json")
    job = user.post("/jobs", {"name": "x", "type": "echo", "payload": {}}, format="json").json()
    assert job["priority"] == "low" and job["waiting_for"] is None
    urgent = user.post("/jobs", {"name": "x", "type": "echo", "payload": {}, "priority": "high", "concurrency_key": "acme"},
                       format="json").json()
    assert urgent["priority"] == "high" and urgent["concurrency_key"] == "acme"
    body = problem(user.post("/jobs", {"name": "x", "type": "echo", "payload": {}, "priority": "urgent"}, format="json"),
                   400, "validation_error")
    assert list(body["errors"]) == ["priority"]
