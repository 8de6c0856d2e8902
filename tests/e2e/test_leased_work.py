"""Leased work on real processes: Celery's own retries as SQS delays, and a chunk past its time limit finishing once per item."""

import collections

import boto3
import pytest

from tests.e2e.helpers import wait_until

RETRY_SECONDS = 6


@pytest.fixture(scope="module")
def stack(make_stack):
    # No jitter: each retry waits exactly the backoff, so the test can look at the queue while it waits.
    return make_stack(BATCHLAB_RETRY_BASE_SECONDS=RETRY_SECONDS, BATCHLAB_RETRY_MAX_SECONDS=RETRY_SECONDS,
                      BATCHLAB_RETRY_JITTER=0)


@pytest.fixture(scope="module")
def limited(make_stack):
    """A stack whose time limit is 3 s, so that a chunk of slow items reaches it."""
    return make_stack(BATCHLAB_RETRY_BASE_SECONDS=1, BATCHLAB_RETRY_MAX_SECONDS=1, BATCHLAB_RETRY_JITTER=0,
                      BATCHLAB_MAX_JOB_SECONDS=3, BATCHLAB_MAX_ATTEMPTS=5)


def _queue_counts(stack) -> dict:
    sqs = boto3.client("sqs", endpoint_url=stack.env()["AWS_ENDPOINT_URL_SQS"], region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    url = sqs.get_queue_url(QueueName=stack.env().get("BATCHLAB_QUEUE_PREFIX", "batchlab-") + "jobs")["QueueUrl"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return {"visible": int(attrs[names[0]]), "in_flight": int(attrs[names[1]]), "delayed": int(attrs[names[2]])}


def test_a_transient_failure_waits_as_an_sqs_delay_with_the_record_saying_so(api, stack):
    job = api.submit("flaky", {"failures": 1})
    waiting = wait_until(lambda: (j := api.get(f"/jobs/{job['id']}").json())["status"] == "QUEUED"
                         and any(e["event"] == "retry_scheduled" for e in j["timeline"]) and j,
                         timeout=30, what="the retry recorded")
    # The record agrees with Celery's retry: QUEUED, one attempt used, the next one due after the backoff.
    assert waiting["attempts"] == 1 and f"Retrying in {RETRY_SECONDS} s" in waiting["timeline"][-1]["message"]
    # ... and the retry's message waits on the queue as an SQS delay, not in a worker's hands (an ETA
    # would be received at once and held unacknowledged by the worker: in flight, not delayed).
    # (The first attempt's message is acknowledged just after the retry is recorded: wait for that, not longer.)
    counts = wait_until(lambda: (c := _queue_counts(stack))["in_flight"] == 0 and c, timeout=RETRY_SECONDS - 2,
                        what="the first attempt's message acknowledged")
    assert counts["delayed"] == 1, counts
    done = api.wait(job["id"], timeout=60)
    assert done["status"] == "COMPLETED" and done["attempts"] == 2


def test_a_chunk_that_passes_its_time_limit_keeps_what_it_ran_and_runs_each_item_to_its_end_once(limited):
    from tests.e2e.conftest import Api

    api, stack = Api(limited.web_url, "demo"), limited
    # Four items of 1.2 s in one chunk: Celery's 3 s soft limit strikes during the third (or earlier on a busy machine).
    items = [{"v": i, "sleep": 1.2} for i in range(4)]
    response = api.post("/jobs", json={"name": "slow chunk", "type": "probe", "items": items, "chunk_size": 10})
    assert response.status_code == 201, response.text
    job = api.wait(response.json()["id"], timeout=90)
    assert (job["status"], job["items"]["succeeded"], job["items"]["failed"]) == ("COMPLETED", 4, 0), job
    runs = collections.Counter(line.split()[2] for line in (stack.log_dir.parent / "runs.log").read_text().splitlines()
                               if line.startswith(f"{job['id']}#1 item"))
    chunk = api.get(f"/jobs/{job['id']}/chunks").json()["results"][0]
    # The limit struck at least once; each attempt kept the items it finished, so an item started again only
    # when the limit interrupted it (one per attempt): no item from the start again, none twice over.
    assert chunk["attempts"] >= 2, chunk
    assert set(runs) == {"1", "2", "3", "4"} and max(runs.values()) <= 2, runs
    assert sum(runs.values()) <= 4 + chunk["attempts"] - 1, (runs, chunk)
