"""The AWS meter: DynamoDB item sizes and units, and the requests and units of a job's whole path."""

import pytest

from batchlab import awsmeter
from jobs import selectors, services
from jobs.services.jobs.runner import job_execute
from jobs.tables import IdempotencyRecord, Job


def test_item_size_counts_names_and_values_as_dynamodb_does():
    # Names and strings by their UTF-8 bytes; numbers ~1 byte per 2 digits + 1;
    # a list or map 3 bytes + 1 per element; booleans and nulls 1.
    assert awsmeter.item_size({"Name": {"S": "abc"}}) == 4 + 3
    assert awsmeter.item_size({"N": {"N": "12345"}}) == 1 + 1 + 3
    assert awsmeter.item_size({"Ok": {"BOOL": True}, "No": {"NULL": True}}) == 3 + 3
    assert awsmeter.item_size({"L": {"L": [{"S": "ab"}, {"N": "7"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert awsmeter.item_size({"M": {"M": {"k": {"S": "é"}}}}) == 1 + 3 + 1 + 1 + 2


def test_units_round_up_per_started_kilobyte_and_four_kilobytes():
    assert awsmeter.write_units(1) == 1 and awsmeter.write_units(1024) == 1 and awsmeter.write_units(1025) == 2
    assert awsmeter.read_units(4096, consistent=True) == 1 and awsmeter.read_units(4097, consistent=True) == 2
    assert awsmeter.read_units(100, consistent=False) == 0.5


@pytest.fixture
def meter(aws, monkeypatch):
    meter = awsmeter.install()
    meter.reset()
    # Clients made before the meter was installed carry no hooks: make new ones.
    monkeypatch.setattr(Job, "_connection", None)
    monkeypatch.setattr(IdempotencyRecord, "_connection", None)
    return meter


def test_an_echo_job_costs_one_put_and_two_updates_of_one_unit_each_and_no_read(meter, published):
    job, _ = services.job_submit(owner="alice", name="e", type="echo", payload={"hello": "world"})
    assert job_execute(job_id=job.job_id, worker="w:1") == "completed"
    snapshot = meter.snapshot()
    assert snapshot["requests"] == {"dynamodb.PutItem": 1, "dynamodb.UpdateItem": 2}
    assert snapshot["write_units"] == {"dynamodb.PutItem": 1, "dynamodb.UpdateItem": 2}
    assert snapshot["read_units"] == {}
    assert published == [(job.job_id, 0)]


def test_a_refused_claim_is_counted_and_billed(meter, published):
    job, _ = services.job_submit(owner="alice", name="e", type="echo", payload={})
    job_execute(job_id=job.job_id, worker="w:1")
    meter.reset()
    assert job_execute(job_id=job.job_id, worker="w:2") == "final"
    snapshot = meter.snapshot()
    assert snapshot["refused_conditional_writes"] == {"dynamodb.UpdateItem": 1}
    assert snapshot["write_units"] == {"dynamodb.UpdateItem": 1}
    # Why it was refused: one consistent GetItem, a full read unit.
    assert snapshot["requests"] == {"dynamodb.UpdateItem": 1, "dynamodb.GetItem": 1}
    assert snapshot["read_units"] == {"dynamodb.GetItem": 1}


def test_a_big_job_is_billed_by_its_size_on_every_write(meter, published):
    job, _ = services.job_submit(owner="alice", name="big", type="echo", payload={"text": "x" * 2000})
    assert 2048 < awsmeter.item_size(job.serialize()) < 2560
    job_execute(job_id=job.job_id, worker="w:1")
    units = meter.snapshot()["write_units"]
    # ~2.4 KB put, ~2.6 KB after the claim, ~4.8 KB after the echo's 2 KB result.
    assert units["dynamodb.PutItem"] == 3
    assert units["dynamodb.UpdateItem"] == 3 + 5


def test_get_many_of_100_ids_is_one_batch_get_item(meter, published):
    ids = [services.job_submit(owner="alice", name=f"j{i}", type="echo", payload={})[0].job_id for i in range(100)]
    meter.reset()
    assert len(selectors.jobs_get_many(job_ids=ids, owner="alice")) == 100
    assert meter.snapshot()["requests"] == {"dynamodb.BatchGetItem": 1}


def test_totals_add_up_the_files_of_every_process(tmp_path):
    (tmp_path / "1.json").write_text('{"requests": {"sqs.SendMessage": 2}, "write_units": {"dynamodb.PutItem": 1}}')
    (tmp_path / "2.json").write_text('{"requests": {"sqs.SendMessage": 3, "sqs.ReceiveMessage": 1}}')
    (tmp_path / "3.tmp").write_text("half-written")
    totals = awsmeter.totals_read(tmp_path)
    assert totals["requests"] == {"sqs.SendMessage": 5, "sqs.ReceiveMessage": 1}
    assert totals["write_units"] == {"dynamodb.PutItem": 1}
