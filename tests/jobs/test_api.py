"""POST /jobs through DRF's test client on moto's in-process AWS: what is refused, how, and what is stored."""

import pytest
from rest_framework.test import APIClient

from jobs.handlers.registry import JobType
from jobs.tables import JOB_SK, Job

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aws")]

LIMIT = 64 * 1024  # BATCHLAB_MAX_PAYLOAD_BYTES (default)


@pytest.fixture
def client(django_user_model) -> APIClient:
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("alice", password="pw"))
    return client


def post(client, body, **headers):
    return client.post("/jobs", body, format="json", headers=headers)


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code, body
    return body


def stored_jobs() -> list:
    return list(Job.scan())


def test_submit_stores_the_job_and_answers_201_with_it(client, published):
    response = post(client, {"name": " sums ", "type": "checksum", "payload": {"items": ["a", "b"]}})
    assert response.status_code == 201
    job = response.json()
    assert response["Location"] == f"/jobs/{job['id']}"
    assert (job["name"], job["type"], job["payload"], job["status"]) == ("sums", "checksum", {"items": ["a", "b"]}, "QUEUED")
    assert published == [(job["id"], 0)]
    assert [j.job_id for j in stored_jobs()] == [job["id"]]


def test_the_payload_is_validated_once_by_its_type(client, published, monkeypatch):
    calls = []
    validate = JobType.validate

    def counting(self, payload):
        calls.append(self.name)
        return validate(self, payload)

    monkeypatch.setattr(JobType, "validate", counting)
    assert post(client, {"name": "x", "type": "sleep", "payload": {"seconds": 1}}).status_code == 201
    assert calls == ["sleep"]


def test_unknown_top_level_fields_are_refused_each_named(client, published):
    body = problem(post(client, {"name": "x", "type": "echo", "paylod": {"a": 1}, "priority": 5}), 400, "validation_error")
    assert set(body["errors"]) == {"paylod", "priority"}
    assert "name, type, payload" in body["errors"]["paylod"][0]
    assert stored_jobs() == [] and published == []


def test_checksum_refuses_numbers_and_booleans_in_items_instead_of_hashing_their_text(client, published):
    for items in ([1, 2], ["a", 2.5], [True]):
        body = problem(post(client, {"name": "x", "type": "checksum", "payload": {"items": items}}), 400, "validation_error")
        assert list(body["errors"]) == ["payload.items"], body
    assert stored_jobs() == [] and published == []


def test_an_unknown_type_alone_is_unknown_job_type_with_the_known_types(client):
    body = problem(post(client, {"name": "x", "type": "nope"}), 400, "unknown_job_type")
    assert "checksum" in body["known_types"] and "echo" in body["detail"]


def test_an_unknown_type_with_other_bad_fields_is_listed_with_them(client):
    body = problem(post(client, {"name": "", "type": "nope", "extra": 1}), 400, "validation_error")
    assert set(body["errors"]) == {"name", "type", "extra"}
    assert "Known types" in body["errors"]["type"][0]


def test_field_errors_and_payload_errors_come_in_one_answer(client):
    body = problem(post(client, {"name": "a\nb", "type": "sleep", "payload": {"seconds": -1}}), 400, "validation_error")
    assert set(body["errors"]) == {"name", "payload.seconds"}
    assert body["detail"] == "Invalid input: name, payload.seconds."


def test_a_body_that_is_not_an_object_is_a_400(client):
    for value in ([{"name": "x", "type": "echo"}], "echo", 3):
        body = problem(post(client, value), 400, "validation_error")
        assert body["errors"]["non_field_errors"]


def test_a_name_over_200_characters_within_the_byte_limit_is_a_400_naming_name(client):
    body = problem(post(client, {"name": "n" * 10_000, "type": "echo"}), 400, "validation_error")
    assert list(body["errors"]) == ["name"]


def test_a_body_over_the_byte_limit_is_a_413_whatever_field_makes_it_big(client):
    # 100 KB of name and no items: over a payload job's body limit (payload limit + 16 KB).
    body = problem(post(client, {"name": "n" * 100_000, "type": "echo"}), 413, "payload_too_large")
    assert "100" in body["detail"] and f"the payload limit is {LIMIT} bytes" in body["detail"]


ITEMS_LIMIT = 1024 * 1024  # BATCHLAB_MAX_INLINE_ITEMS_BYTES (default)


def test_an_item_job_of_1000_items_of_110_bytes_is_accepted(client, chunk_messages):
    items = ["i" * 108] * 1000  # 110 bytes each as JSON: a 112 KB body, over a payload job's 80 KB
    response = post(client, {"name": "many", "type": "checksum", "items": items})
    assert response.status_code == 201, response.content[:300]
    assert response.json()["items"]["total"] == 1000 and len(chunk_messages) == 10


def test_an_item_job_just_under_the_inline_items_limit_is_accepted(client, chunk_messages):
    items = ["i" * 1040] * 1000  # 1,043,001 bytes of items, the limit is 1,048,576
    response = post(client, {"name": "full", "type": "checksum", "items": items, "payload": {"note": "n" * 60_000}})
    assert response.status_code == 201, response.content[:300]


def test_items_over_their_limit_are_a_413_that_names_the_inline_items_limit(client, chunk_messages):
    # Under the body limit (items + payload + 16 KB): read, and refused for the items' own size.
    body = problem(post(client, {"name": "over", "type": "checksum", "items": ["i" * 1060] * 1000}), 413, "payload_too_large")
    assert f"the inline limit is {ITEMS_LIMIT} bytes" in body["detail"]
    # Over the body limit: refused by its length, unread, naming both limits and where more items go.
    body = problem(post(client, {"name": "far", "type": "checksum", "items": ["i" * 1200] * 1000}), 413, "payload_too_large")
    assert f"the inline items limit is {ITEMS_LIMIT} bytes" in body["detail"] and "POST /jobs/files" in body["detail"]
    assert chunk_messages == []


def test_a_schedules_inline_items_have_the_inline_items_limit_too(client):
    items = ["i" * 108] * 1000
    response = client.post("/schedules", {"name": "s", "type": "checksum", "interval_seconds": 3600, "items": items}, format="json")
    assert response.status_code == 201, response.content[:300]
    body = problem(client.post("/schedules", {"name": "s", "type": "checksum", "interval_seconds": 3600,
                                              "items": ["i" * 1200] * 1000}, format="json"), 413, "payload_too_large")
    assert "POST /schedules/files" in body["detail"]
    body = problem(client.post("/schedules", {"name": "s", "type": "echo", "interval_seconds": 3600,
                                              "payload": {"v": "x" * 90_000}}, format="json"), 413, "payload_too_large")
    assert str(LIMIT) in body["detail"]


def test_a_payload_over_its_limit_in_a_body_under_the_byte_limit_is_a_413(client):
    # A body of ~66 KB (under the 80 KB it may have) whose payload is over its 64 KB.
    problem(post(client, {"name": "x", "type": "echo", "payload": {"v": "x" * (LIMIT + 10)}}), 413, "payload_too_large")


def test_a_malformed_idempotency_key_is_a_400(client):
    for key in ("", "a b", "k" * 256):
        problem(post(client, {"name": "x", "type": "echo"}, **{"Idempotency-Key": key}), 400, "invalid_idempotency_key")


def test_the_same_idempotency_key_and_body_answer_200_with_the_first_job(client, published):
    body = {"name": "x", "type": "echo", "payload": {"a": 1}}
    first = post(client, body, **{"Idempotency-Key": "key-1"})
    again = post(client, body, **{"Idempotency-Key": "key-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    problem(post(client, {**body, "payload": {"a": 2}}, **{"Idempotency-Key": "key-1"}), 422, "idempotency_key_reused")


def test_dead_letters_answer_503_problem_when_sqs_does_not_answer(django_user_model, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    from jobs import queues

    def unreachable(*args, **kwargs):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    monkeypatch.setattr(queues, "_receive", unreachable)
    monkeypatch.setattr(queues, "queue_counts", unreachable)
    staff = APIClient()
    staff.force_authenticate(django_user_model.objects.create_user("root", password="pw", is_staff=True))
    body = problem(staff.get("/dead-letters"), 503, "queue_unavailable")
    assert "SQS" in body["detail"]


def test_a_cancel_that_keeps_losing_its_write_answers_409_job_state_conflict_after_five_reads(client, published, monkeypatch):
    """Each refused write is read again; when every attempt is lost the answer is the documented 409, as for
    any JobStateConflict (the error handler maps a subclass as its base: it answered 400 before)."""
    import jobs.services.actions as actions
    from jobs.exceptions import JobMovedMeanwhile

    job_id = post(client, {"name": "c", "type": "echo", "payload": {"x": 1}}).json()["id"]
    reads = []
    real_read = actions.job_get_visible

    def counted_read(**kw):
        reads.append(kw["job_id"])
        return real_read(**kw)

    def always_moved(*, job, actor):
        raise JobMovedMeanwhile(f"Job {job.job_id} changed state while being canceled; try again.")

    monkeypatch.setattr(actions, "job_get_visible", counted_read)
    monkeypatch.setattr(actions, "job_cancel_record", always_moved)
    body = problem(client.post(f"/jobs/{job_id}/cancel"), 409, "job_state_conflict")
    assert "changed state while being canceled" in body["detail"]
    assert reads == [job_id] * actions.CANCEL_ATTEMPTS
    assert Job.get(job_id, JOB_SK).status == "QUEUED"
