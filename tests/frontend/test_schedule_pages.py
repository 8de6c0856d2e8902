"""The schedule pages through Django's test client, on moto's in-process AWS: create with field errors, edit, actions, staff list."""

import pytest
from django.contrib.messages import get_messages

from jobs import services
from jobs.tables.schedules import EDIT_PREFIX, Schedule, ScheduleLogEntry

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]


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


# --- schedules of item types (checksum runs item by item) ---------------------------------------------------

ITEM_FORM = {"name": "hourly checksums", "type": "checksum", "payload": "{}", "interval_seconds": "3600", "overlap": "skip"}


def test_an_item_schedule_from_typed_lines_stores_them_and_its_page_and_lists_show_the_summary(client, alice, django_user_model):
    lines = "\n".join(f'"line {i}"' for i in range(25)) + "\n\n"  # a blank line is skipped
    response = client.post("/ui/schedules", {**ITEM_FORM, "items": lines, "chunk_size": "10", "on_invalid": "reject"})
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule_id = response["Location"].rsplit("/", 1)[1]
    stored = Schedule.get(schedule_id)
    assert (int(stored.items_total), int(stored.chunk_size)) == (25, 10) and stored.items_object
    page = client.get(response["Location"]).content.decode()
    assert 'id="items-summary">25 items · chunks of 10' in page
    assert "Now: <strong>25 items · chunks of 10</strong>" in page and '"line 0"' not in page  # not prefilled again
    assert "25 items · chunks of 10" in client.get("/ui/schedules").content.decode()
    client.force_login(django_user_model.objects.create_user("boss", password="pw", is_staff=True))
    assert "25 items · chunks of 10" in client.get("/admin/batchlab/schedules/").content.decode()


def test_a_bad_line_in_the_items_box_is_named_next_to_the_box_and_nothing_is_stored(client, alice):
    response = client.post("/ui/schedules", {**ITEM_FORM, "items": '"ok"\n{not json\n"ok"\n7', "chunk_size": "0"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-error-for="items"' in html and "line 2: not JSON" in html
    assert 'data-error-for="chunk_size"' in html  # every bad field at once
    assert "{not json" in html  # the lines typed are shown again
    response = client.post("/ui/schedules", {**ITEM_FORM, "items": '"ok"\n7'})  # JSON, but not an item checksum takes
    assert response.status_code == 400 and "line 2" in response.content.decode()
    response = client.post("/ui/schedules", {**ITEM_FORM, "type": "transform"})  # a type that runs only item by item, no items
    assert response.status_code == 400 and "runs item by item" in response.content.decode()
    response = client.post("/ui/schedules", dict(ITEM_FORM))  # checksum runs both ways: no items, so its payload is read
    assert response.status_code == 400 and 'data-error-for="payload.items"' in response.content.decode()
    assert list(Schedule.owner_index.query("alice")) == []


def test_an_item_schedule_from_a_file_and_an_edit_that_keeps_then_replaces_its_items(client, alice):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("items.ndjson", b'"a"\n"b"\n"c"\n', content_type="application/x-ndjson")
    response = client.post("/ui/schedules", {**ITEM_FORM, "items": "", "file": upload, "chunk_size": "2"})
    assert response.status_code == 302, response.content.decode()[:2000]
    url = response["Location"]
    schedule_id = url.rsplit("/", 1)[1]
    first = Schedule.get(schedule_id).items_object
    assert (int(Schedule.get(schedule_id).items_total), int(Schedule.get(schedule_id).chunk_size)) == (3, 2)
    # An edit with the items box left empty keeps the items (the same stored object).
    response = client.post(url, {**ITEM_FORM, "name": "renamed", "items": "", "max_failed_ratio": "0.5"})
    assert response.status_code == 302
    kept = Schedule.get(schedule_id)
    assert kept.name == "renamed" and kept.items_object == first and kept.max_failed_ratio == 0.5
    # A chunk size alone (no new items) is refused next to its field, as by the API.
    response = client.post(url, {**ITEM_FORM, "items": "", "chunk_size": "5"})
    assert response.status_code == 400 and 'data-error-for="chunk_size"' in response.content.decode()
    # New items typed in replace them.
    response = client.post(url, {**ITEM_FORM, "items": '"x"\n"y"', "chunk_size": "1"})
    assert response.status_code == 302
    assert (int(Schedule.get(schedule_id).items_total), int(Schedule.get(schedule_id).chunk_size)) == (2, 1)
    assert "2 items · chunks of 1" in client.get(url).content.decode()
    # Another type that takes a payload: the items are dropped.
    response = client.post(url, {**ITEM_FORM, "type": "echo", "payload": '{"a": 1}'})
    assert response.status_code == 302
    assert Schedule.get(schedule_id).items_object is None and Schedule.get(schedule_id).payload == {"a": 1}
    assert 'id="items-summary"' not in client.get(url).content.decode()


def test_the_form_shows_the_items_box_for_an_item_type_only(client, alice):
    html = client.get("/ui/schedules").content.decode()
    assert 'enctype="multipart/form-data"' in html and 'data-items="true"' in html
    assert 'id="s-items-box" hidden disabled' in html  # the first type (echo) takes a payload
    response = client.post("/ui/schedules", {**ITEM_FORM, "name": ""})
    html = response.content.decode()
    assert 'id="s-items-box" hidden' not in html and 'data-error-for="name"' in html
