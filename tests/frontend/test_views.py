"""The page and staff views through Django's test client, on moto's in-process AWS: access rules and messages."""

import pytest
from django.contrib.messages import get_messages

from jobs import services
from jobs.tables import JOB_SK, Job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("boss", password="pw", is_staff=True)


def submit(owner: str, type: str = "echo", payload: dict | None = None) -> Job:
    job, _ = services.job_submit(owner=owner, name=f"{type} of {owner}", type=type, payload=payload or {})
    return job


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_pages_send_anonymous_users_to_the_login_page(client):
    for path in ("/", "/accounts/token/", "/ui/jobs/00000000-0000-0000-0000-000000000000"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_staff_pages_send_users_who_are_not_staff_to_the_admin_login(client, alice):
    client.force_login(alice)
    for path in ("/admin/batchlab/jobs/", "/admin/batchlab/jobs/x/", "/admin/batchlab/dead-letters/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next=")
    assert client.post("/admin/batchlab/jobs/action/", {"action": "cancel"}).status_code == 302


def test_job_page_of_another_users_job_answers_404(client, alice, published):
    other = submit("mallory")
    own = submit("alice")
    client.force_login(alice)
    assert client.get(f"/ui/jobs/{other.job_id}").status_code == 404
    assert client.get("/ui/jobs/not-a-uuid").status_code == 404
    response = client.get(f"/ui/jobs/{own.job_id}")
    assert response.status_code == 200 and own.name in response.content.decode()


def test_token_page_creates_the_token_once(client, alice):
    client.force_login(alice)
    first = client.get("/accounts/token/").context["token"]
    assert client.get("/accounts/token/").context["token"] == first
    client.post("/accounts/token/")
    assert client.get("/accounts/token/").context["token"] != first


def test_staff_list_filters_by_status_and_owner(client, staff, published):
    queued = submit("alice")
    canceled = submit("bob")
    services.job_cancel(job_id=canceled.job_id, owner=None, actor="t")
    client.force_login(staff)
    rows = lambda r: [row["id"] for row in r.context["rows"]]  # noqa: E731
    assert set(rows(client.get("/admin/batchlab/jobs/"))) == {queued.job_id, canceled.job_id}
    assert rows(client.get("/admin/batchlab/jobs/?status=CANCELED")) == [canceled.job_id]
    assert rows(client.get("/admin/batchlab/jobs/?owner=alice")) == [queued.job_id]
    assert rows(client.get(f"/admin/batchlab/jobs/?q={canceled.job_id}")) == [canceled.job_id]
    counts = dict((value, count) for value, _, count in client.get("/admin/batchlab/jobs/").context["counts"])
    assert counts["QUEUED"] == 1 and counts["CANCELED"] == 1


def test_staff_action_turns_domain_errors_into_messages(client, staff, published):
    queued = submit("alice")
    client.force_login(staff)
    response = client.post("/admin/batchlab/jobs/", {"action": "retry", "_selected_action": [queued.job_id]})
    assert response.status_code == 302
    assert texts(response) == [f"Job {queued.job_id} is QUEUED; only FAILED or CANCELED jobs can be retried."]

    response = client.post("/admin/batchlab/jobs/", {"action": "cancel", "_selected_action": [queued.job_id],
                                                     "next": "https://evil.example/"})
    assert response["Location"] == "/admin/batchlab/jobs/"  # no open redirect
    assert Job.get(queued.job_id, JOB_SK).status == "CANCELED"


def test_staff_detail_shows_the_raw_item_and_a_missing_job_becomes_a_message(client, staff, published):
    job = submit("alice")
    client.force_login(staff)
    response = client.get(f"/admin/batchlab/jobs/{job.job_id}/")
    assert response.status_code == 200
    assert f'"JobId": "{job.job_id}"' in response.context["raw_json"]
    missing = client.get("/admin/batchlab/jobs/00000000-0000-4000-8000-000000000000/")
    assert missing.status_code == 302 and "doesn’t exist" in texts(missing)[0]


def test_staff_pages_count_an_item_jobs_attempts_per_chunk(client, staff, chunk_messages, published):
    source = services.items_inline(type="checksum", values=["a", "b"], on_invalid="reject")
    items, _ = services.job_submit_items(owner="alice", name="digests", type="checksum", payload={}, source=source)
    plain = submit("alice")
    client.force_login(staff)
    detail = client.get(f"/admin/batchlab/jobs/{items.job_id}/").content.decode()
    assert "per chunk" in detail and "0 of 3" not in detail
    listing = client.get("/admin/batchlab/jobs/").content.decode()
    assert listing.count("per chunk") == 1 and "0/3" in listing  # the plain job's own count
    assert "0 of 3" in client.get(f"/admin/batchlab/jobs/{plain.job_id}/").content.decode()


def test_dead_letter_page_renders_counts(client, staff):
    client.force_login(staff)
    response = client.get("/admin/batchlab/dead-letters/")
    assert response.status_code == 200
    assert response.context["counts"]["dead_letter"]["visible"] == 0 and response.context["letters"] == []
