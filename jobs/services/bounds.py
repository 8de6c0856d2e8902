"""How large a job's and a chunk's DynamoDB items can grow, from the settings: the bound each stays under, whatever a handler does.

DynamoDB refuses an item over 400 KB, and bills every write by the item's size,
so both matter. What keeps each term bounded, and where:

- payload <= BATCHLAB_MAX_PAYLOAD_BYTES (the API), result <= BATCHLAB_MAX_RESULT_BYTES
  (the runner fails a larger one), error message <= store.MAX_MESSAGE_BYTES;
- timeline entries: messages <= store.MAX_ENTRY_BYTES; log lines stop where the
  timeline as claimed would pass MAX_TIMELINE_ENTRIES - 20; a cancel request is
  written once; each attempt adds at most two more (claimed, and how it ended);
  recovery, a retry and a redrive compact the timeline (a write conditional on the
  version that was read) once it passes MAX_TIMELINE_ENTRIES;
- a chunk's inline items <= BATCHLAB_CHUNK_MAX_BYTES (cut by bytes as well as count),
  and its outcomes stay inline only while items + outcomes <= that + BATCHLAB_INLINE_OUTCOMES_BYTES.
"""

from django.conf import settings

from jobs.services.store import MAX_ENTRY_BYTES, MAX_MESSAGE_BYTES, MAX_TIMELINE_ENTRIES

# A timeline entry besides its message: At, Event, Status, Worker (host:pid) and their names.
ENTRY_OVERHEAD = 200
# Every other attribute of a job (ids, name, type, times, counters, lease, indexes' keys) and their names.
JOB_FIXED = 4 * 1024
CHUNK_FIXED = 1024


def timeline_entries_bound() -> int:
    return MAX_TIMELINE_ENTRIES + 2 * settings.BATCHLAB_MAX_ATTEMPTS + 2


def job_item_bound() -> int:
    """Bytes a job's item stays under."""
    timeline = timeline_entries_bound() * (MAX_ENTRY_BYTES + ENTRY_OVERHEAD)
    return (settings.BATCHLAB_MAX_PAYLOAD_BYTES + settings.BATCHLAB_MAX_RESULT_BYTES + MAX_MESSAGE_BYTES
            + timeline + JOB_FIXED)


def chunk_item_bound() -> int:
    """Bytes a chunk's item stays under."""
    items = max(settings.BATCHLAB_CHUNK_MAX_BYTES, settings.BATCHLAB_MAX_ITEM_BYTES)
    return items + settings.BATCHLAB_INLINE_OUTCOMES_BYTES + CHUNK_FIXED
