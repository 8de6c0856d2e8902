"""The DynamoDB conditions the services send are built from the state machine's transitions."""

import pytest

from jobs.services.store import allowed_by, moves_to
from jobs.states import (
    ALL_CHUNK_TRANSITIONS,
    ALL_TRANSITIONS,
    CHUNK_CLAIM,
    CHUNK_HEARTBEAT,
    CLAIM,
    COMPLETE,
    GIVE_UP,
    HEARTBEAT,
    RETRY,
    JobStatus,
)


def _statuses_in(condition, attribute: str = "Status") -> set[str]:
    """The status values a condition compares the item's Status (or ChunkStatus) with."""
    names, values = {}, {}
    expression = condition.serialize(names, values)
    assert set(names) == {attribute}, expression
    return {next(iter(v.values())) for v in values.values()}


@pytest.mark.parametrize("transition", ALL_TRANSITIONS, ids=lambda t: t.name)
def test_condition_names_exactly_the_sources_of_each_transition(transition):
    assert _statuses_in(allowed_by(transition)) == {s.value for s in transition.sources}


def test_a_condition_on_the_status_that_was_read_must_be_a_source():
    assert _statuses_in(allowed_by(RETRY, status=JobStatus.FAILED)) == {"FAILED"}
    with pytest.raises(ValueError):
        allowed_by(RETRY, status=JobStatus.COMPLETED)
    with pytest.raises(ValueError):
        allowed_by(GIVE_UP, status=JobStatus.CANCELED)


def test_moves_set_the_target_status_unless_the_status_stays():
    assert moves_to(HEARTBEAT) == []
    (action,) = moves_to(COMPLETE)
    names, values = {}, {}
    action.serialize(names, values)
    assert "Status" in names and {"S": "COMPLETED"} in values.values()
    assert len(moves_to(CLAIM)) == 1


@pytest.mark.parametrize("transition", ALL_CHUNK_TRANSITIONS, ids=lambda t: t.name)
def test_a_chunk_condition_names_exactly_the_sources_on_chunk_status(transition):
    assert _statuses_in(allowed_by(transition), "ChunkStatus") == {s.value for s in transition.sources}


def test_chunk_moves_set_chunk_status_never_the_job_status():
    assert moves_to(CHUNK_HEARTBEAT) == []
    (action,) = moves_to(CHUNK_CLAIM)
    names, values = {}, {}
    action.serialize(names, values)
    assert set(names) == {"ChunkStatus"} and {"S": "PROCESSING"} in values.values()
