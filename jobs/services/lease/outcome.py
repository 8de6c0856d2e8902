"""What one delivery of a unit's message came to: an Outcome, for the task, the logs and the metrics."""

from enum import StrEnum


class Outcome(StrEnum):
    # The unit ran and this run recorded its end (or its next attempt).
    COMPLETED = "completed"  # a job completed; a chunk ran every item it had left (DONE)
    FAILED = "failed"
    RETRYING = "retrying"  # back to the queue with a backoff (a transient error, a chunk's time limit)
    CANCELED = "canceled"
    LEASE_LOST = "lease_lost"  # another claim took the unit over; this run's outcome was fenced out
    # The claim was refused; nothing ran.
    MISSING = "missing"  # no such unit (expired, or never written)
    FINAL = "final"  # already ended: a duplicate or late message
    BUSY = "busy"  # another live claim holds it: leave the message for later
    EXHAUSTED = "exhausted"  # no attempts left: the unit was ended here for good
    NOT_CLAIMABLE = "not_claimable"  # not in a state a worker takes (SCHEDULED, an item job's own record)
    WAITING = "waiting"  # held back before the claim (a pause, a limit): its message was sent again, delayed

    @property
    def ran(self) -> bool:
        return self in (Outcome.COMPLETED, Outcome.FAILED, Outcome.RETRYING, Outcome.CANCELED, Outcome.LEASE_LOST)

    @property
    def leaves_message(self) -> bool:
        """The message should stay on the queue (not be acknowledged): it is needed again later."""
        return self is Outcome.BUSY
