"""Fixtures of the page tests: alice, logged in to Django's test client."""

import pytest


@pytest.fixture
def alice(django_user_model, client):
    user = django_user_model.objects.create_user("alice", password="pw")
    client.force_login(user)
    return user
