"""Conditional writes from workflows, as the order workflow makes them: DynamoDB conditional updates,
transactions through the aws-sdk integration, and S3 create-only puts; each failure has AWS's error name."""

from __future__ import annotations

from typing import Any

from tests.unit.localcloud import sfn_helpers
from tests.unit.localcloud.running_cloud import Cloud
from tests.unit.localcloud.sfn_helpers import machine, output, run, task

cloud = sfn_helpers.cloud
sfn = sfn_helpers.sfn


def table(cloud: Cloud, name: str, **items: str) -> None:
    """A table keyed by `id` holding {id: status} for each item given."""
    dynamodb = cloud.client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for key, status in items.items():
        dynamodb.put_item(TableName=name, Item={"id": {"S": key}, "status": {"S": status}})


def caught(error: str) -> dict[str, Any]:
    return {"Catch": [{"ErrorEquals": [error], "ResultPath": "$.error", "Next": "Caught"}]}


CAUGHT = {"Caught": {"Type": "Pass", "End": True}}


def transition(table_name: str, expected: str, new: str) -> dict[str, Any]:
    """UpdateItem parameters: status expected -> new, for the order id of the input."""
    return {
        "TableName": table_name,
        "Key": {"id": {"S.$": "$.orderId"}},
        "UpdateExpression": "SET #s = :new",
        "ConditionExpression": "#s = :expected",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":new": {"S": new}, ":expected": {"S": expected}},
        "ReturnValues": "ALL_NEW",
    }


def status(cloud: Cloud, table_name: str, key: str) -> str:
    item = cloud.client("dynamodb").get_item(TableName=table_name, Key={"id": {"S": key}})["Item"]
    return str(item["status"]["S"])


def test_an_optimized_conditional_update_returns_the_new_item_or_fails_catchably(
    cloud: Cloud, sfn: Any
) -> None:
    # Given a PENDING order and one already PROCESSING
    table(cloud, "cw-orders", fresh="PENDING", taken="PROCESSING")
    take = machine(
        sfn,
        "cw-take",
        {
            "Take": task(
                "arn:aws:states:::dynamodb:updateItem",
                transition("cw-orders", "PENDING", "PROCESSING"),
                ResultPath="$.taken",
                **caught("DynamoDB.ConditionalCheckFailedException"),
            ),
            **CAUGHT,
        },
    )

    # When the workflow takes each
    fresh = output(run(sfn, take, {"orderId": "fresh"}))
    taken = output(run(sfn, take, {"orderId": "taken"}))

    # Then the PENDING one is taken and read back; the other fails its condition, caught by name
    assert fresh["taken"]["Attributes"] == {"id": {"S": "fresh"}, "status": {"S": "PROCESSING"}}
    assert "error" not in fresh
    assert taken["error"]["Error"] == "DynamoDB.ConditionalCheckFailedException"
    assert "taken" not in taken


def transact(table_name: str, expected: str) -> dict[str, Any]:
    """TransactWriteItems: the order moves expected -> RESERVED and a ledger item is put, both conditional."""
    return {
        "TransactItems": [
            {
                "Update": {
                    k: v
                    for k, v in transition(table_name, expected, "RESERVED").items()
                    if k != "ReturnValues"
                }
            },
            {
                "Put": {
                    "TableName": table_name,
                    "Item": {
                        "id": {"S.$": "States.Format('ledger-{}', $.orderId)"},
                        "status": {"S": "BOOKED"},
                    },
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            },
        ]
    }


def test_an_sdk_transaction_writes_all_or_fails_as_cancelled(cloud: Cloud, sfn: Any) -> None:
    # Given two PROCESSING orders
    table(cloud, "cw-tx", first="PROCESSING", second="PROCESSING")
    reserve = machine(
        sfn,
        "cw-reserve",
        {
            "Reserve": task(
                "arn:aws:states:::aws-sdk:dynamodb:transactWriteItems",
                transact("cw-tx", "PROCESSING"),
                ResultPath="$.written",
                **caught("DynamoDb.TransactionCanceledException"),
            ),
            **CAUGHT,
        },
    )

    # When the first is reserved once and the second twice
    first = output(run(sfn, reserve, {"orderId": "first"}))
    output(run(sfn, reserve, {"orderId": "second"}))
    again = output(run(sfn, reserve, {"orderId": "second"}))

    # Then the first transaction wrote both items; the repeat was cancelled, caught by the SDK's name
    assert "error" not in first
    assert (status(cloud, "cw-tx", "first"), status(cloud, "cw-tx", "ledger-first")) == ("RESERVED", "BOOKED")
    assert again["error"]["Error"] == "DynamoDb.TransactionCanceledException"
    assert "ConditionalCheckFailed" in again["error"]["Cause"]


def test_an_sdk_conditional_update_fails_with_the_sdks_error_name(cloud: Cloud, sfn: Any) -> None:
    # Given a COMPLETED order and a workflow updating it through the aws-sdk integration
    table(cloud, "cw-sdk", done="COMPLETED")
    update = machine(
        sfn,
        "cw-sdk-update",
        {
            "Update": task(
                "arn:aws:states:::aws-sdk:dynamodb:updateItem",
                transition("cw-sdk", "PENDING", "PROCESSING"),
                **caught("DynamoDb.ConditionalCheckFailedException"),
            ),
            **CAUGHT,
        },
    )

    # When it runs / Then the failed condition is caught as DynamoDb.ConditionalCheckFailedException
    result = output(run(sfn, update, {"orderId": "done"}))
    assert result["error"]["Error"] == "DynamoDb.ConditionalCheckFailedException"
    assert status(cloud, "cw-sdk", "done") == "COMPLETED"


def test_an_sdk_create_only_put_object_refuses_an_existing_key(cloud: Cloud, sfn: Any) -> None:
    # Given a bucket holding an invoice, and a workflow writing invoices only if they are new
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="cw-invoices")
    s3.put_object(Bucket="cw-invoices", Key="o-1.json", Body=b"first")
    write = machine(
        sfn,
        "cw-invoice",
        {
            "Write": task(
                "arn:aws:states:::aws-sdk:s3:putObject",
                {"Bucket": "cw-invoices", "Key.$": "$.key", "Body": "second", "IfNoneMatch": "*"},
                ResultPath="$.put",
                **caught("S3.S3Exception"),
            ),
            **CAUGHT,
        },
    )

    # When it writes the existing key and a new one
    existing = output(run(sfn, write, {"key": "o-1.json"}))
    new = output(run(sfn, write, {"key": "o-2.json"}))

    # Then the existing object is kept (412, caught as S3.S3Exception); the new one is written
    assert existing["error"]["Error"] == "S3.S3Exception"
    assert "Status Code: 412" in existing["error"]["Cause"]
    assert s3.get_object(Bucket="cw-invoices", Key="o-1.json")["Body"].read() == b"first"
    assert "ETag" in new["put"]
    assert s3.get_object(Bucket="cw-invoices", Key="o-2.json")["Body"].read() == b"second"
