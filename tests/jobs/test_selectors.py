"""Listing is a Query on an index, newest first, with signed cursors."""

import pytest

from jobs import selectors, services
from jobs.exceptions import InvalidCursor

pytestmark = pytest.mark.usefixtures("aws")


def make(owner, n, type="echo"):
    return [services.job_submit(owner=owner, name=f"{owner}-{i}", type=type, payload={"i": i})[0].job_id for i in range(n)]


def test_owner_listing_is_newest_first_and_paginates(published):
    ids = make("alice", 5)
    make("bob", 2)
    page = selectors.job_list(owner="alice", limit=3)
    assert [j.job_id for j in page.items] == list(reversed(ids))[:3]
    rest = selectors.job_list(owner="alice", limit=3, cursor=page.next_cursor)
    assert [j.job_id for j in rest.items] == list(reversed(ids))[3:]
    assert rest.next_cursor is None


def test_staff_listing_sees_everyone_and_filters_by_status_and_type(published):
    make("alice", 2)
    make("bob", 1)
    assert len(selectors.job_list(owner=None, limit=50).items) == 3
    assert len(selectors.job_list(owner=None, status="QUEUED", limit=50).items) == 3
    assert selectors.job_list(owner=None, status="COMPLETED", limit=50).items == []
    assert selectors.job_list(owner=None, type="fail", limit=50).items == []
    assert selectors.job_status_counts()["QUEUED"] == 3


def test_cursor_is_tamper_proof_and_bound_to_its_filters(published):
    make("alice", 3)
    page = selectors.job_list(owner="alice", limit=1)
    with pytest.raises(InvalidCursor):
        selectors.job_list(owner="alice", limit=1, cursor=page.next_cursor[:-2] + "xx")
    with pytest.raises(InvalidCursor):
        selectors.job_list(owner="alice", status="FAILED", limit=1, cursor=page.next_cursor)


def test_get_many_keeps_order_and_hides_other_owners(published):
    a = make("alice", 2)
    b = make("bob", 1)
    got = selectors.jobs_get_many(job_ids=[a[1], b[0], a[0]], owner="alice")
    assert [j.job_id for j in got] == [a[1], a[0]]
