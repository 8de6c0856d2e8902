"""The lease keeper: one thread per process renews the lease of every running job, and stops writing when it ends."""

import threading

import pytest

from jobs import services
from jobs.services.lease.keeper import KEEPER
from jobs.services.jobs.runner import job_execute
from jobs.tables import JOB_SK, Job

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def short_lease(settings):
    settings.BATCHLAB_LEASE_SECONDS = 3  # renewed every second
    settings.BATCHLAB_PROGRESS_INTERVAL = 100  # progress writes would renew it too: keep them out


def test_a_long_job_has_its_lease_renewed_and_nothing_is_written_after_it_ends(short_lease, published):
    job, _ = services.job_submit(owner="alice", name="long", type="sleep", payload={"seconds": 2.6})
    assert job_execute(job_id=job.job_id, worker="w:1") == "completed"
    done = Job.get(job.job_id, JOB_SK)
    # claim (2), the first progress write (3), >= 2 renewals, complete: every write adds one.
    assert int(done.version) >= 6, int(done.version)
    assert done.status == "COMPLETED" and done.lease_expires_at is None
    assert not KEEPER._held
    version = int(done.version)
    threading.Event().wait(1.5)
    assert int(Job.get(job.job_id, JOB_SK).version) == version  # no renewal after the end


def test_two_jobs_at_once_share_one_keeper_thread(short_lease, published):
    jobs = [services.job_submit(owner="alice", name=f"j{i}", type="sleep", payload={"seconds": 2.2})[0] for i in range(2)]
    outcomes = []
    runners = [threading.Thread(target=lambda j=j: outcomes.append(job_execute(job_id=j.job_id, worker="w:1"))) for j in jobs]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(timeout=30)
    assert outcomes == ["completed", "completed"]
    assert all(int(Job.get(j.job_id, JOB_SK).version) >= 5 for j in jobs)
    assert sum(1 for t in threading.enumerate() if t.name == "lease-keeper") == 1
