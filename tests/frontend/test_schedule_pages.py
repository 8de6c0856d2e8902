"""The schedule pages through Django's test client, on moto's in-process AWS: create with field errors, edit, actions, staff list."""

import pytest
from django.contrib.messages import get_messages

from jobs import services
from jobs.tables_schedules import EDIT_PREFIX, Schedule, ScheduleLogEntry

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]


@pytest.fixture
def alice(django_user_model, client):
    user = django_user_model.objects.create_user("alice", password="pw")
    client.force_login(user)
    return user


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_bad_form_shows_every_field_error_and_creates_nothing(client, alice):
    response = client.post("/ui/schedules", {"name": "n", "type": "sleep", "payload": '{"seconds": -1}',
                                             "interval_seconds": "5", "timezone": "Mars/Base"})
    assert response.status_code == 400
    html = response.content.decode()
    for field in ("interval_seconds", "timezone", "payload.seconds"):
        assert f'data-error-for="{field}"' in html, field
    assert list(Schedule.owner_index.query("alice")) == []
    response = client.post("/ui/schedules", {"name": "n", "type": "echo", "payload": "{not json", "cron": "0 9 * * *"})
    assert response.status_code == 400 and 'data-error-for="payload"' in response.content.decode()


def test_create_edit_pause_run_and_delete_from_the_pages(client, alice, published):
    response = client.post("/ui/schedules", {"name": "nightly", "type": "echo", "payload": '{"a": 1}',
                                             "cron": "0 2 * * *", "timezone": "Europe/Paris", "overlap": "skip"})
    assert response.status_code == 302
    schedule_url = response["Location"]
    page = client.get(schedule_url).content.decode()
    assert "nightly" in page and "0 2 * * *" in page and 'class="js-when"' in page
    response = client.post(schedule_url, {"name": "nightly", "type": "echo", "payload": '{"a": 2}',
                                          "cron": "30 3 * * *", "timezone": "Europe/Paris", "overlap": "allow"})
    assert response.status_code == 302 and texts(response)[-1].startswith("Saved")
    schedule_id = schedule_url.rsplit("/", 1)[1]
    stored = Schedule.get(schedule_id)
    edits = list(ScheduleLogEntry.query(schedule_id, ScheduleLogEntry.sk.startswith(EDIT_PREFIX)))
    assert stored.cron == "30 3 * * *" and stored.payload == {"a": 2} and edits[-1].actor == "alice"
    client.post(f"{schedule_url}/pause")
    assert Schedule.get(schedule_id).paused
    client.post(f"{schedule_url}/run")
    assert len(published) == 1
    page = client.get(schedule_url).content.decode()
    assert 'data-outcome="manual"' in page and "Resume" in page
    client.post(f"{schedule_url}/delete")
    assert client.get(schedule_url).status_code == 404


def test_another_users_schedule_is_not_found_and_staff_see_every_schedule(client, alice, django_user_model):
    other = services.schedule_create(owner="mallory", name="theirs", type="echo", payload={}, interval_seconds=3600)
    assert client.get(f"/ui/schedules/{other.schedule_id}").status_code == 404
    assert client.post(f"/ui/schedules/{other.schedule_id}/pause").status_code == 404
    assert client.get("/admin/batchlab/schedules/").status_code == 302  # not staff
    client.force_login(django_user_model.objects.create_user("boss", password="pw", is_staff=True))
    listing = client.get("/admin/batchlab/schedules/").content.decode()
    assert "theirs" in listing and "mallory" in listing
