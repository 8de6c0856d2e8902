"""Fixtures of the webhook unit tests: messages recorded instead of sent, a real receiver on 127.0.0.1, two API users."""

import pytest
from rest_framework.test import APIClient

from tests.webhooks.receiver import Receiver


@pytest.fixture
def hook_messages(monkeypatch):
    """Every message the webhooks queue would get, as (task name, args, delay) — sent nowhere."""
    from jobs.services.webhooks import messages

    sent = []
    monkeypatch.setattr(messages, "_send", lambda name, args, delay_seconds=0: sent.append((name, list(args), delay_seconds)))
    return sent


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def _client(django_user_model, name: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user(name, password="pw"))
    return client


@pytest.fixture
def alice(django_user_model) -> APIClient:
    return _client(django_user_model, "alice")


@pytest.fixture
def bob(django_user_model) -> APIClient:
    return _client(django_user_model, "bob")
