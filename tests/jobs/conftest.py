"""Fixtures of the domain's unit tests."""

import pytest


@pytest.fixture
def fresh_type_settings():
    """Each test reads the job types' settings afresh (the per-process cache emptied before and after)."""
    from jobs.selectors.flow import SETTINGS

    SETTINGS.clear()
    yield
    SETTINGS.clear()
