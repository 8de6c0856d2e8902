"""The state machine is pure: test it directly."""

from jobs.states import (
    ALL_CHUNK_TRANSITIONS,
    ALL_TRANSITIONS,
    CHUNK_TRANSITIONS,
    TRANSITIONS,
    ChunkStatus,
    JobStatus,
    can_cancel,
    can_retry,
    can_retry_items,
    can_transition,
    is_final,
)


def test_final_states_have_no_way_out_but_retry():
    assert is_final("COMPLETED") and is_final("FAILED") and is_final("CANCELED")
    assert not can_transition(source="COMPLETED", target="PROCESSING")
    assert can_transition(source="FAILED", target="QUEUED")
    assert can_transition(source="CANCELED", target="QUEUED")


def test_cancel_and_retry_rules():
    assert [s for s in JobStatus if can_cancel(s)] == [JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.PROCESSING]
    assert [s for s in JobStatus if can_retry(s)] == [JobStatus.FAILED, JobStatus.CANCELED]


def test_every_non_final_state_can_end():
    for status in (JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.PROCESSING):
        assert any(is_final(t) for t in JobStatus if can_transition(source=status, target=t))


# The whole machine, written out once more by hand: a change to jobs/states.py
# that adds or removes a move shows up here as a failing pair.
EXPECTED_MOVES = {
    ("SCHEDULED", "QUEUED"), ("SCHEDULED", "CANCELED"),
    ("QUEUED", "QUEUED"), ("QUEUED", "PROCESSING"), ("QUEUED", "CANCELED"), ("QUEUED", "FAILED"),
    ("PROCESSING", "QUEUED"), ("PROCESSING", "PROCESSING"), ("PROCESSING", "COMPLETED"),
    ("PROCESSING", "FAILED"), ("PROCESSING", "CANCELED"),
    ("FAILED", "QUEUED"), ("CANCELED", "QUEUED"),
    ("COMPLETED", "QUEUED"),  # an item job's retry of its failed items
    # A workflow's step: released or ended by its last parent's end; waits again in a retry of its workflow.
    ("WAITING", "QUEUED"), ("WAITING", "CANCELED"),
    ("COMPLETED", "WAITING"), ("FAILED", "WAITING"), ("CANCELED", "WAITING"),
}


def test_every_pair_of_states_is_allowed_exactly_when_a_named_transition_moves_it():
    for source in JobStatus:
        for target in JobStatus:
            by_name = [t.name for t in ALL_TRANSITIONS if t.allows(source) and t.target == target]
            expected = (source.value, target.value) in EXPECTED_MOVES
            assert can_transition(source=source, target=target) is expected, (source, target)
            assert bool(by_name) is expected, (source, target, by_name)


def test_a_scheduled_job_is_released_or_run_now_or_canceled_and_nothing_else():
    from jobs.states import can_run_now

    assert TRANSITIONS[JobStatus.SCHEDULED] == {JobStatus.QUEUED, JobStatus.CANCELED}
    assert [s for s in JobStatus if can_run_now(s)] == [JobStatus.SCHEDULED]
    assert not any(can_transition(source=s, target="SCHEDULED") for s in JobStatus)


def test_completed_leads_only_back_to_the_queue_for_failed_items_or_a_workflow_retry_and_transition_names_are_unique():
    assert TRANSITIONS[JobStatus.COMPLETED] == frozenset({JobStatus.QUEUED, JobStatus.WAITING})
    assert not can_retry(JobStatus.COMPLETED) and can_retry_items(JobStatus.COMPLETED)
    names = [t.name for t in ALL_TRANSITIONS + ALL_CHUNK_TRANSITIONS]
    assert len(names) == len(set(names))


EXPECTED_CHUNK_MOVES = {
    ("PENDING", "PROCESSING"), ("PENDING", "CANCELED"), ("PENDING", "DONE"),
    ("PROCESSING", "PROCESSING"), ("PROCESSING", "DONE"), ("PROCESSING", "CANCELED"), ("PROCESSING", "PENDING"),
    ("DONE", "PENDING"), ("CANCELED", "PENDING"),
}


def test_every_pair_of_chunk_states_is_allowed_exactly_when_a_named_chunk_transition_moves_it():
    for source in ChunkStatus:
        for target in ChunkStatus:
            by_name = [t.name for t in ALL_CHUNK_TRANSITIONS if t.allows(source) and t.target == target]
            expected = (source.value, target.value) in EXPECTED_CHUNK_MOVES
            assert (target in CHUNK_TRANSITIONS[source]) is expected, (source, target)
            assert bool(by_name) is expected, (source, target, by_name)


def test_a_waiting_step_is_released_or_ended_and_never_claimed():
    from jobs.states import CLAIM, RELEASE, SKIP

    assert TRANSITIONS[JobStatus.WAITING] == {JobStatus.QUEUED, JobStatus.CANCELED}
    assert not CLAIM.allows(JobStatus.WAITING) and not can_cancel(JobStatus.WAITING)
    assert RELEASE.sources == SKIP.sources == {JobStatus.WAITING}
