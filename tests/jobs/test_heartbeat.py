"""The heartbeat writes what the worker's main process knows (running jobs, jobs done, receives); selectors judge staleness."""

import ast
import os
import subprocess
import sys
import time
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


def test_beats_start_every_interval_however_long_a_write_takes(monkeypatch, settings):
    """A beat that takes most of the interval is not followed by a whole interval more: alive means
    'beat within two intervals', and a busy store would otherwise use that margin up (0.9 s writes at
    a 1 s interval put beats 1.9 s apart, and a reader saw the worker stale)."""
    settings.BATCHLAB_WORKER_HEARTBEAT_SECONDS = 0.3
    heartbeat = Heartbeat(name="worker1@test", concurrency=1)
    starts = []

    def slow_beat():
        starts.append(time.monotonic())
        if len(starts) >= 4:
            heartbeat._stop.set()
        time.sleep(0.25)

    monkeypatch.setattr(heartbeat, "beat_now", slow_beat)
    heartbeat._run()
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(gaps) == 3 and all(gap < 0.45 for gap in gaps), gaps  # 0.3 s apart, not 0.55


def test_a_stopping_worker_removes_its_record_before_it_waits_for_its_delivery_worker():
    """Celery calls worker_shutdown's receivers in the order they were connected; the delivery worker's
    waits up to the webhook timeout for the sends in flight, and the record must be gone by then.
    In a fresh interpreter that imports what a worker imports (this one imported the heartbeat first)."""
    probe = (
        "import django; django.setup()\n"
        "from celery.signals import worker_shutdown\n"
        "import batchlab.celery, jobs.tasks\n"
        "print([getattr(r(), '__module__', '') for _, r in worker_shutdown.receivers])\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "batchlab.settings"})
    assert done.returncode == 0, done.stderr
    names = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert "jobs.worker.heartbeat" in names and "jobs.worker.deliveries" in names, names
    assert names.index("jobs.worker.heartbeat") < names.index("jobs.worker.deliveries"), names
