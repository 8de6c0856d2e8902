"""Retention: a job past ExpiresAt is gone from every read at once, before DynamoDB's TTL sweeper deletes it."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs import selectors, services
from jobs.exceptions import JobNotFound
from jobs.tables import JOB_SK, Job

pytestmark = pytest.mark.usefixtures("aws")


def expire(job_id: str) -> None:
    job = Job.get(job_id, JOB_SK)
    job.update(actions=[Job.expires_at.set(datetime.now(UTC) - timedelta(seconds=1))])


def test_an_expired_job_disappears_from_reads_and_listings_at_once(published):
    kept, gone = (services.job_submit(owner="alice", name=n, type="echo", payload={})[0].job_id for n in ("kept", "gone"))
    expire(gone)
    assert Job.get(gone, JOB_SK)  # still stored: the TTL sweeper has not run
    with pytest.raises(JobNotFound):
        selectors.job_get(job_id=gone, owner="alice")
    with pytest.raises(JobNotFound):
        selectors.job_get(job_id=gone, owner=None)  # staff too
    assert selectors.job_get(job_id=kept, owner="alice").job_id == kept
    assert [j.job_id for j in selectors.jobs_get_many(job_ids=[kept, gone], owner="alice")] == [kept]
    for listing in (selectors.job_list(owner="alice"), selectors.job_list(owner=None),
                    selectors.job_list(owner=None, status="QUEUED"), selectors.job_list(owner="alice", type="echo")):
        assert [j.job_id for j in listing.items] == [kept]


def test_a_listing_page_is_full_even_when_expired_jobs_sit_in_it(published):
    ids = [services.job_submit(owner="bob", name=f"j{i}", type="echo", payload={})[0].job_id for i in range(5)]
    for job_id in ids[2:4]:
        expire(job_id)
    page = selectors.job_list(owner="bob", limit=2)
    assert [j.job_id for j in page.items] == [ids[4], ids[1]]
    rest = selectors.job_list(owner="bob", limit=2, cursor=page.next_cursor)
    assert [j.job_id for j in rest.items] == [ids[0]]
