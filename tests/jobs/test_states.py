"""The state machine is pure: test it directly."""

from jobs.states import JobStatus, can_cancel, can_retry, can_transition, is_final


def test_final_states_have_no_way_out_but_retry():
    assert is_final("COMPLETED") and is_final("FAILED") and is_final("CANCELED")
    assert not can_transition(source="COMPLETED", target="QUEUED")
    assert can_transition(source="FAILED", target="QUEUED")
    assert can_transition(source="CANCELED", target="QUEUED")


def test_cancel_and_retry_rules():
    assert [s for s in JobStatus if can_cancel(s)] == [JobStatus.QUEUED, JobStatus.PROCESSING]
    assert [s for s in JobStatus if can_retry(s)] == [JobStatus.FAILED, JobStatus.CANCELED]


def test_every_non_final_state_can_end():
    for status in (JobStatus.QUEUED, JobStatus.PROCESSING):
        assert any(is_final(t) for t in JobStatus if can_transition(source=status, target=t))
