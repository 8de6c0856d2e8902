"""The fault proxy's DynamoDB contention answers, read back through boto3 and PynamoDB against a moto server.

A transaction conflict and a throttled hot key are answered as DynamoDB answers
them (tests/faults/dynamodb_answers.py) and applied to nothing; boto3 parses the
cancellation reasons, PynamoDB raises TransactWriteError with
`cause_response_code` and `cancellation_reasons` exactly as a real condition
failure from moto reads (the fields jobs.services.store reads), and requests
touching other keys pass through.
"""

import subprocess
import sys

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from devstack.launcher import ROOT, free_port, wait_for_port
from jobs.services.store import Answer, refusal_of
from tests.faults.proxy import FaultProxy, Rule

TABLE = "proxy-test-jobs"
JOB = {"JobId": {"S": "j1"}, "SK": {"S": "JOB"}}
CHUNK = {"JobId": {"S": "j1"}, "SK": {"S": "CHUNK#000001"}}
HOT = {"JobId": "j1", "SK": "JOB"}


@pytest.fixture(scope="module")
def moto_port():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "devstack.moto_serial", "-H", "127.0.0.1", "-p", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port, timeout=60, proc=proc, name="moto (dynamodb)")
        client = _client(f"http://127.0.0.1:{port}", attempts=1)
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "JobId", "AttributeType": "S"},
                                                  {"AttributeName": "SK", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "JobId", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}])
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def proxy(moto_port):
    proxy = FaultProxy(moto_port, seed=7, name="dynamodb")
    _client(f"http://127.0.0.1:{moto_port}", attempts=1).batch_write_item(RequestItems={TABLE: [
        {"PutRequest": {"Item": {**JOB, "Done": {"N": "0"}}}}, {"PutRequest": {"Item": {**CHUNK, "Done": {"N": "0"}}}}]})
    yield proxy
    proxy.close()


def _client(endpoint: str, *, attempts: int = 3):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}))


def _finish(client, *, condition_on_chunk: str = "attribute_exists(JobId)"):
    """A chunk finish's shape: the chunk and the job it counts into, in one transaction."""
    client.transact_write_items(TransactItems=[
        {"Update": {"TableName": TABLE, "Key": CHUNK, "UpdateExpression": "SET Done = :one",
                    "ConditionExpression": condition_on_chunk, "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Update": {"TableName": TABLE, "Key": JOB, "UpdateExpression": "ADD Done :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
    ])


def _done(moto_port) -> tuple[str, str]:
    client = _client(f"http://127.0.0.1:{moto_port}", attempts=1)
    read = lambda key: client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]["Done"]["N"]  # noqa: E731
    return read(CHUNK), read(JOB)


def _models(endpoint: str):
    class Item(Model):
        class Meta:
            table_name = TABLE
            host = endpoint
            region = "us-east-1"
            max_retry_attempts = 2

        job_id = UnicodeAttribute(hash_key=True, attr_name="JobId")
        sk = UnicodeAttribute(range_key=True, attr_name="SK")
        done = NumberAttribute(attr_name="Done", default=0)

    return Item


def _pynamo_finish(Item, *, chunk_condition=None):
    chunk, job = Item("j1", "CHUNK#000001"), Item("j1", "JOB")
    with TransactWrite(connection=Item._get_connection().connection) as transaction:
        transaction.update(chunk, actions=[Item.done.set(1)], condition=chunk_condition)
        transaction.update(job, actions=[Item.done.add(1)])


def _as_our_code_reads(exc: TransactWriteError) -> tuple:
    return exc.cause_response_code, [r.code if r is not None else None for r in exc.cancellation_reasons]


def test_a_conflict_cancels_the_transaction_as_dynamodb_does_and_applies_nothing(proxy, moto_port):
    rule = Rule("conflict", 1.0, ops=("TransactWriteItems",), key=HOT)
    proxy.set_rules(rule)
    with pytest.raises(ClientError) as caught:
        _finish(_client(proxy.endpoint))
    error = caught.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert error["CancellationReasons"] == [{"Code": "None"},
                                            {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
    assert "[None, TransactionConflict]" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _done(moto_port) == ("0", "0")  # neither item was written
    assert rule.fired == 1 and proxy.injected["conflict"] == 1  # a cancel is not retried by the SDK


def test_pynamodb_reads_a_conflict_as_it_reads_moto_s_own_condition_failure(proxy, moto_port):
    Item = _models(proxy.endpoint)
    with pytest.raises(TransactWriteError) as real:  # moto's own answer: the chunk's condition fails
        _pynamo_finish(Item, chunk_condition=Item.done == 99)
    proxy.set_rules(Rule("conflict", 1.0, ops=("TransactWriteItems",), key=HOT))
    with pytest.raises(TransactWriteError) as conflict:
        _pynamo_finish(Item)
    assert _as_our_code_reads(real.value) == ("TransactionCanceledException", ["ConditionalCheckFailed", None])
    assert _as_our_code_reads(conflict.value) == ("TransactionCanceledException", [None, "TransactionConflict"])
    assert conflict.value.cancellation_reasons[1].message == "Transaction is ongoing for the item"
    assert refusal_of(real.value).answer is Answer.REFUSED
    assert refusal_of(conflict.value).answer is Answer.CONFLICT  # contention, never a refusal: tried again
    assert _done(moto_port) == ("0", "0")


def test_a_hot_key_is_throttled_and_other_keys_pass(proxy, moto_port):
    rule = Rule("throttle", 1.0, ops=("UpdateItem", "TransactWriteItems"), key=HOT)
    proxy.set_rules(rule)
    client = _client(proxy.endpoint, attempts=3)
    with pytest.raises(ClientError) as caught:
        client.update_item(TableName=TABLE, Key=JOB, UpdateExpression="ADD Done :one",
                           ExpressionAttributeValues={":one": {"N": "1"}})
    error = caught.value.response
    assert error["Error"]["Code"] == "ThrottlingException"
    assert error["throttlingReasons"] == [{"reason": "TableWriteKeyRangeThroughputExceeded",
                                           "resource": f"arn:aws:dynamodb:us-east-1:000000000000:table/{TABLE}"}]
    assert rule.fired == 3  # the SDK retries a throttle (3 attempts here), every one refused
    client.update_item(TableName=TABLE, Key=CHUNK, UpdateExpression="ADD Done :one",
                       ExpressionAttributeValues={":one": {"N": "1"}})  # another key: forwarded
    assert _done(moto_port) == ("1", "0")

    Item = _models(proxy.endpoint)
    with pytest.raises(UpdateError) as pynamo:
        Item("j1", "JOB").update(actions=[Item.done.add(1)])
    assert pynamo.value.cause_response_code == "ThrottlingException"
    with pytest.raises(TransactWriteError) as transaction:
        _pynamo_finish(Item)
    assert _as_our_code_reads(transaction.value) == ("TransactionCanceledException", [None, "ThrottlingError"])
    assert refusal_of(transaction.value).answer is Answer.THROTTLED  # a throttle is never a refusal
    assert _done(moto_port) == ("1", "0")


def test_repeat_conflicts_a_write_once_and_its_retry_goes_through(proxy, moto_port):
    rule = Rule("conflict", 1.0, ops=("TransactWriteItems",), key=HOT, repeat=1)
    proxy.set_rules(rule)
    client = _client(proxy.endpoint)
    with pytest.raises(ClientError):
        _finish(client)
    _finish(client)  # the same write again: applied
    assert rule.fired == 1 and _done(moto_port) == ("1", "1")


def test_a_share_of_transactions_conflicts_and_the_seed_replays_the_draws(moto_port):
    shares = []
    for _ in range(2):
        _client(f"http://127.0.0.1:{moto_port}", attempts=1).put_item(TableName=TABLE, Item={**JOB, "Done": {"N": "0"}})
        proxy = FaultProxy(moto_port, seed=20, name="dynamodb")
        try:
            proxy.set_rules(Rule("conflict", 0.2, ops=("TransactWriteItems",), key=HOT))
            client, outcomes = _client(proxy.endpoint, attempts=1), []
            for _ in range(50):
                try:
                    _finish(client)
                    outcomes.append("applied")
                except ClientError as exc:
                    assert exc.response["CancellationReasons"][1]["Code"] == "TransactionConflict"
                    outcomes.append("conflict")
        finally:
            proxy.close()
        job_done = _done(moto_port)[1]
        assert int(job_done) == outcomes.count("applied")  # a canceled transaction added nothing
        shares.append(outcomes)
    assert shares[0] == shares[1]  # one seed, one sequence of draws
    assert 0 < shares[0].count("conflict") < 50, shares[0]
