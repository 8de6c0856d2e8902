"""GET /jobs/{id} with If-None-Match: an unchanged job answers 304 with no body; a changed one 200."""

import pytest
from rest_framework.test import APIClient

from jobs import services
from jobs.api.jobs import etag_matches
from jobs.services.jobs.runner import job_execute

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]


@pytest.fixture
def api(django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("alice", password="pw"))
    return client


def test_etag_matching_follows_if_none_match():
    assert etag_matches('"3"', '"3"')
    assert etag_matches('W/"3"', '"3"')
    assert etag_matches('"1", "3"', '"3"')
    assert etag_matches("*", '"3"')
    assert not etag_matches('"2"', '"3"')
    assert not etag_matches(None, '"3"') and not etag_matches("", '"3"')


def test_unchanged_job_answers_304_and_a_changed_one_200(api, published):
    job, _ = services.job_submit(owner="alice", name="e", type="echo", payload={"a": 1})
    first = api.get(f"/jobs/{job.job_id}")
    assert first.status_code == 200 and first["Cache-Control"] == "private, no-cache"
    etag = first["ETag"]

    again = api.get(f"/jobs/{job.job_id}", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag

    job_execute(job_id=job.job_id, worker="w:1")
    changed = api.get(f"/jobs/{job.job_id}", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["status"] == "COMPLETED"


def test_another_users_job_is_404_even_with_a_matching_etag(api, published):
    job, _ = services.job_submit(owner="bob", name="e", type="echo", payload={})
    assert api.get(f"/jobs/{job.job_id}", HTTP_IF_NONE_MATCH="*").status_code == 404
