"""The embedded DynamoDB's transactions back up the items they touch: a canceled one leaves every item as it was."""

import boto3
import pytest
from moto import mock_aws

from devstack import moto_dynamodb


@pytest.fixture
def client():
    moto_dynamodb.install()
    with mock_aws():
        c = boto3.client("dynamodb", region_name="us-east-1")
        c.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                       KeySchema=[{"AttributeName": "P", "KeyType": "HASH"}, {"AttributeName": "S", "KeyType": "RANGE"}],
                       AttributeDefinitions=[{"AttributeName": "P", "AttributeType": "S"}, {"AttributeName": "S", "AttributeType": "S"}])
        c.put_item(TableName="t", Item={"P": {"S": "a"}, "S": {"S": "1"}, "N": {"N": "1"}})
        c.put_item(TableName="t", Item={"P": {"S": "other"}, "S": {"S": "1"}, "N": {"N": "7"}})
        yield c


def _n(client, p):
    item = client.get_item(TableName="t", Key={"P": {"S": p}, "S": {"S": "1"}}).get("Item")
    return None if item is None else int(item["N"]["N"])


def _update(p, condition_value):
    return {"Update": {"TableName": "t", "Key": {"P": {"S": p}, "S": {"S": "1"}}, "UpdateExpression": "ADD N :one",
                       "ConditionExpression": "N = :v",
                       "ExpressionAttributeValues": {":one": {"N": "1"}, ":v": {"N": str(condition_value)}}}}


def test_a_canceled_transaction_undoes_what_it_applied_before_the_refused_condition(client):
    put = {"Put": {"TableName": "t", "Item": {"P": {"S": "new"}, "S": {"S": "1"}, "N": {"N": "5"}}}}
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(TransactItems=[_update("a", 1), put, _update("other", 99)])
    assert (_n(client, "a"), _n(client, "new"), _n(client, "other")) == (1, None, 7)


def test_a_transaction_that_holds_applies_every_operation(client):
    client.transact_write_items(TransactItems=[_update("a", 1), _update("other", 7)])
    assert (_n(client, "a"), _n(client, "other")) == (2, 8)
