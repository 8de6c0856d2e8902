"""Fixtures for unit tests: moto's in-process AWS mock with the tables and queues created."""

import pytest
from moto import mock_aws


@pytest.fixture
def aws():
    """A fresh in-process AWS (moto) with BatchLab's tables and queues bootstrapped."""
    from devstack import moto_dynamodb
    from jobs import objects, queues, store_admin

    moto_dynamodb.install()  # transactions as the embedded server runs them (items backed up, not tables)
    with mock_aws():
        objects.s3_client.cache_clear()
        queues.sqs_client.cache_clear()
        queues._queue_url.cache_clear()
        store_admin.bootstrap_all()
        yield
        objects.s3_client.cache_clear()
        queues.sqs_client.cache_clear()
        queues._queue_url.cache_clear()


@pytest.fixture
def published(monkeypatch):
    """Record job publications instead of sending them through Celery."""
    sent = []
    from jobs.services import publishing

    def fake_publish(*, job_id, delay_seconds=0, priority=None, flow=None):
        sent.append((job_id, delay_seconds))

    monkeypatch.setattr(publishing, "job_publish", fake_publish)
    return sent


@pytest.fixture
def fresh_type_settings():
    """Each test reads the job types' settings afresh (the per-process cache emptied before and after)."""
    from jobs.selectors.flow import SETTINGS

    SETTINGS.clear()
    yield
    SETTINGS.clear()


@pytest.fixture
def chunk_messages(monkeypatch):
    """Record chunk publications as (job id, number) instead of sending them through Celery."""
    sent = []
    from jobs.services import publishing

    def fake(*, job_id, numbers, delay_seconds=0, priority=None, flow=None):
        sent.extend((job_id, n) for n in numbers)
        return 0

    monkeypatch.setattr(publishing, "chunks_publish", fake)
    return sent
