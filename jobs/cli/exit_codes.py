"""The exit codes of `batchlab`, documented in the README ("The command-line client")."""

from enum import IntEnum

FINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELED")


class Exit(IntEnum):
    """0 completed (or any successful request), 1 failed, 2 canceled, 3 usage, 4 unreachable, 5 still running, 6 items failed."""

    OK = 0
    FAILED = 1  # the job FAILED, or the API refused the request (its problem+json goes to stderr)
    CANCELED = 2
    USAGE = 3  # bad arguments: nothing was sent
    UNREACHABLE = 4  # no HTTP answer from BATCHLAB_URL (refused, reset, timed out, DNS)
    TIMEOUT = 5  # `watch`/`submit --wait`: the job was not final within --timeout
    ITEMS_FAILED = 6  # `submit --items-file --wait`: the item job COMPLETED, but some of its items failed


def exit_for_status(status: str | None) -> Exit:
    """The exit code a command that printed one job ends with."""
    return {"FAILED": Exit.FAILED, "CANCELED": Exit.CANCELED}.get(status or "", Exit.OK)
