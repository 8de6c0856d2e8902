"""The heartbeat writes what the worker's main process knows (running jobs, jobs done, receives); selectors judge staleness."""

from datetime import UTC, datetime, timedelta

import pytest
from celery.worker import state as pool_state

from jobs import selectors
from jobs.worker import state as worker_state
from jobs.worker.heartbeat import Heartbeat
from jobs.services import PROCESS_JOB_TASK
from jobs.tables import WorkerRecord

pytestmark = pytest.mark.usefixtures("aws")


class FakeRequest:
    """What Celery's worker state holds for a job its pool runs (weak-referenceable, like celery's Request)."""

    def __init__(self, job_id: str):
        self.name, self.args = PROCESS_JOB_TASK, [job_id]


@pytest.fixture
def pool():
    running = [FakeRequest("job-a")]
    for request in running:
        pool_state.active_requests.add(request)
    pool_state.total_count[PROCESS_JOB_TASK] += 5  # 5 accepted: 1 running, 4 done
    yield running
    for request in running:
        pool_state.active_requests.discard(request)
    pool_state.total_count[PROCESS_JOB_TASK] -= 5


def test_a_beat_records_the_worker_and_a_stop_removes_it(pool):
    worker_state.receive_succeeded()
    worker_state.job_received()
    heartbeat = Heartbeat(name="worker1@test", concurrency=2)
    heartbeat.beat_now()
    [view] = [v for v in selectors.workers_list() if v.record.worker_id == heartbeat.worker_id]
    assert view.alive and view.record.running == ["job-a"] and int(view.record.jobs_done) == 4
    assert view.record.name == "worker1@test" and int(view.record.concurrency) == 2
    assert view.record.last_receive_at is not None and view.record.last_job_at is not None
    assert selectors.workers_count() == {"alive": 1, "stale": 0}
    heartbeat.stop()
    assert selectors.workers_list() == []


def test_a_missed_beat_is_stale_and_an_expired_record_is_gone():
    now = datetime.now(UTC)

    def record(worker_id, seen_ago, expires_in):
        WorkerRecord(worker_id=worker_id, name=worker_id, host="h", pid=1, version="v", concurrency=1,
                     started_at=now - timedelta(hours=1), last_seen_at=now - timedelta(seconds=seen_ago),
                     heartbeat_seconds=15, expires_at=now + timedelta(seconds=expires_in)).save()

    record("fresh", seen_ago=10, expires_in=590)
    record("missed-one", seen_ago=31, expires_in=569)
    record("expired", seen_ago=700, expires_in=-100)  # TTL not swept yet: left out all the same
    views = {v.record.worker_id: v.alive for v in selectors.workers_list()}
    assert views == {"fresh": True, "missed-one": False}
