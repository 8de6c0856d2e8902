"""The Job types pages through Django's test client on moto's in-process AWS: users see, staff edit, pause and resume."""

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws", "fresh_type_settings")]


@pytest.fixture
def login(django_user_model, client):
    def as_(name: str, *, staff: bool = False):
        client.force_login(django_user_model.objects.create_user(name, password="pw", is_staff=staff))
        return client
    return as_


def test_users_see_each_type_and_what_holds_it_but_no_form(login):
    from jobs import services

    services.type_settings_update(type="echo", actor="root", changes={"paused": True, "rate_limit": "5/s"})
    client = login("alice")
    listing = client.get("/ui/job-types").content.decode()
    assert 'data-type="echo" data-paused="true"' in listing and 'data-type="sleep" data-paused="false"' in listing
    assert "5/s" in listing
    page = client.get("/ui/job-types/echo").content.decode()
    assert "Paused: running jobs finish" in page and 'id="limits-form"' not in page and 'id="resume-button"' not in page
    assert client.post("/ui/job-types/echo", {"concurrency_limit": "2"}).status_code == 403
    assert client.post("/ui/job-types/echo/resume").status_code == 403
    assert client.get("/ui/job-types/nope").status_code == 404


def test_staff_edit_the_limits_with_every_error_shown_and_pause_and_resume(login):
    client = login("root", staff=True)
    bad = client.post("/ui/job-types/echo", {"concurrency_limit": "-1", "rate_limit": "ten/s", "key_rate_limit": "0/s",
                                             "priority": "normal"})
    assert bad.status_code == 400
    html = bad.content.decode()
    for field in ("concurrency_limit", "rate_limit", "key_rate_limit"):
        assert f'data-error-for="{field}"' in html, field
    saved = client.post("/ui/job-types/echo", {"concurrency_limit": "2", "rate_limit": "600/minute", "key_concurrency_limit": "",
                                               "key_rate_limit": "", "priority": "high"})
    assert saved.status_code == 302
    page = client.get("/ui/job-types/echo").content.decode()
    assert "0 running of at most 2" in page and "600/min" in page and "concurrency_limit: none → 2" in page
    assert client.post("/ui/job-types/echo/pause").status_code == 302
    page = client.get("/ui/job-types/echo").content.decode()
    assert 'id="resume-button"' in page and "<strong>pause</strong> by root" in page
    assert client.post("/ui/job-types/echo/resume").status_code == 302
    assert 'id="pause-button"' in client.get("/ui/job-types/echo").content.decode()
