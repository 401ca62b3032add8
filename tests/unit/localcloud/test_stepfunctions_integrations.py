"""Tests for service integrations (Lambda, DynamoDB, EventBridge, S3, SQS, SNS) and the flow states.

Each integration's parameters and results are in AWS's shape, and each call reaches the service
of this localcloud, where the test reads its effect over the API.
"""

from __future__ import annotations

import json
from typing import Any

from tests.unit.localcloud import sfn_helpers
from tests.unit.localcloud.running_cloud import Cloud
from tests.unit.localcloud.sfn_helpers import machine, output, receive, run, task

cloud = sfn_helpers.cloud
sfn = sfn_helpers.sfn


def queue(cloud: Cloud, name: str) -> tuple[str, str]:
    """A queue's URL and ARN."""
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def events_to_queue(cloud: Cloud, name: str, source: str) -> str:
    """A queue that gets every event of `source` on the default bus, as a rule's target; its URL."""
    url, arn = queue(cloud, name)
    events = cloud.client("events")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
    return url


def test_lambda_invoke_wraps_the_result_in_payload(cloud: Cloud, sfn: Any) -> None:
    # Given a function that prices an order and a task invoking it
    arn = cloud.create_function("price", "lambda_sfn_tasks", "app.price")
    pricing = machine(
        sfn,
        "price",
        {
            "Price": task(
                "arn:aws:states:::lambda:invoke", {"FunctionName": arn, "Payload": {"qty.$": "$.qty"}}
            )
        },
    )

    # When it runs, Then the result is under Payload with Lambda's response fields
    result = output(run(sfn, pricing, {"qty": 3}))
    assert result["Payload"] == {"total": 15}
    assert result["StatusCode"] == 200


def test_lambda_error_type_drives_retry_and_catch(cloud: Cloud, sfn: Any) -> None:
    # Given a function that always fails with OutOfStock, and a task retrying once then catching it
    arn = cloud.create_function("reserve", "lambda_sfn_tasks", "app.reserve")
    reserving = machine(
        sfn,
        "reserve",
        {
            "Reserve": task(
                "arn:aws:states:::lambda:invoke",
                {"FunctionName": arn, "Payload.$": "$"},
                Retry=[{"ErrorEquals": ["OutOfStock"], "IntervalSeconds": 5, "MaxAttempts": 1}],
                Catch=[{"ErrorEquals": ["OutOfStock"], "ResultPath": "$.error", "Next": "Refund"}],
            ),
            "Refund": {"Type": "Pass", "End": True},
        },
    )

    # When it runs
    result = output(run(sfn, reserving, {"orderId": "o-1"}))

    # Then the handler ran twice, then the error was caught under the Lambda's errorType
    assert [m for m in cloud.log_messages("reserve") if "reserving" in m] == ["reserving for o-1"] * 2
    assert result["error"]["Error"] == "OutOfStock"
    assert json.loads(result["error"]["Cause"])["errorMessage"] == "sku a"


def test_dynamodb_put_update_get_and_a_failing_condition(cloud: Cloud, sfn: Any) -> None:
    # Given an orders table and a workflow writing, updating, reading, then writing again conditionally
    cloud.client("dynamodb").create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    key = {"id": {"S.$": "$.orderId"}}
    put = {
        "TableName": "orders",
        "Item": {"id": {"S.$": "$.orderId"}, "status": {"S": "NEW"}},
        "ConditionExpression": "attribute_not_exists(id)",
    }
    orders = machine(
        sfn,
        "orders",
        {
            "Create": {**task("arn:aws:states:::dynamodb:putItem", put), "ResultPath": None, "Next": "Pay"},
            "Pay": {
                **task(
                    "arn:aws:states:::dynamodb:updateItem",
                    {
                        "TableName": "orders",
                        "Key": key,
                        "UpdateExpression": "SET #s = :paid",
                        "ConditionExpression": "#s = :new",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":paid": {"S": "PAID"}, ":new": {"S": "NEW"}},
                        "ReturnValues": "ALL_NEW",
                    },
                ),
                "ResultPath": "$.updated",
                "Next": "Read",
            },
            "Read": {
                **task("arn:aws:states:::dynamodb:getItem", {"TableName": "orders", "Key": key}),
                "ResultPath": "$.read",
                "Next": "CreateAgain",
            },
            "CreateAgain": task(
                "arn:aws:states:::dynamodb:putItem",
                put,
                ResultPath=None,
                Catch=[
                    {
                        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                        "ResultPath": "$.dup",
                        "Next": "Duplicate",
                    }
                ],
            ),
            "Duplicate": {"Type": "Pass", "End": True},
        },
    )

    # When it runs
    result = output(run(sfn, orders, {"orderId": "o-1"}))

    # Then each call reached DynamoDB and the repeated create failed on its condition
    assert result["updated"]["Attributes"]["status"] == {"S": "PAID"}
    assert result["read"]["Item"] == {"id": {"S": "o-1"}, "status": {"S": "PAID"}}
    assert result["dup"]["Error"] == "DynamoDB.ConditionalCheckFailedException"
    stored = cloud.client("dynamodb").get_item(TableName="orders", Key={"id": {"S": "o-1"}})["Item"]
    assert stored["status"] == {"S": "PAID"}


def test_events_put_events_reaches_the_bus_with_detail_and_resources(cloud: Cloud, sfn: Any) -> None:
    # Given a rule sending the orders events to a queue, and a workflow putting one
    url = events_to_queue(cloud, "cancelled", "orders")
    emit = machine(
        sfn,
        "emit",
        {
            "Emit": task(
                "arn:aws:states:::events:putEvents",
                {
                    "Entries": [
                        {
                            "Source": "orders",
                            "DetailType": "OrderCancelled",
                            "Detail": {"orderId.$": "$.orderId"},
                        }
                    ]
                },
            )
        },
    )

    # When a workflow puts an event
    described = run(sfn, emit, {"orderId": "o-1"})

    # Then the bus delivered it with its Detail as JSON and the ARNs as resources
    assert output(described)["FailedEntryCount"] == 0
    event = json.loads(receive(cloud.client("sqs"), url)["Body"])
    assert (event["source"], event["detail-type"]) == ("orders", "OrderCancelled")
    assert event["detail"] == {"orderId": "o-1"}
    assert event["resources"] == [emit, described["executionArn"]]


def test_aws_sdk_eventbridge_put_events_reaches_the_bus(cloud: Cloud, sfn: Any) -> None:
    # Given a rule sending the placed events to a queue, and a workflow using the aws-sdk integration
    url = events_to_queue(cloud, "placed", "placing")
    entry = {"Source": "placing", "DetailType": "OrderPlaced", "Detail": {"orderId.$": "$.orderId"}}
    emit = machine(
        sfn,
        "emit-sdk",
        {"Emit": task("arn:aws:states:::aws-sdk:eventbridge:putEvents", {"Entries": [entry]})},
    )

    # When it runs, Then "eventbridge" reached the events API, the object Detail as JSON
    assert output(run(sfn, emit, {"orderId": "o-1"}))["FailedEntryCount"] == 0
    event = json.loads(receive(cloud.client("sqs"), url)["Body"])
    assert (event["detail-type"], event["detail"]) == ("OrderPlaced", {"orderId": "o-1"})


def test_aws_sdk_s3_put_object(cloud: Cloud, sfn: Any) -> None:
    # Given a bucket and a workflow writing a text object and a JSON object
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="receipts")
    receipt = machine(
        sfn,
        "receipt",
        {
            "Text": {
                **task(
                    "arn:aws:states:::aws-sdk:s3:putObject",
                    {"Bucket": "receipts", "Key": "o-1.txt", "Body.$": "$.text"},
                ),
                "ResultPath": "$.put",
                "Next": "Json",
            },
            "Json": task(
                "arn:aws:states:::aws-sdk:s3:putObject",
                {"Bucket": "receipts", "Key": "o-1.json", "Body": {"orderId.$": "$.orderId"}},
            ),
        },
    )

    # When it runs
    result = output(run(sfn, receipt, {"orderId": "o-1", "text": "thank you"}))

    # Then both objects are there: the string as is, the object as JSON
    assert "ETag" in result
    assert s3.get_object(Bucket="receipts", Key="o-1.txt")["Body"].read() == b"thank you"
    assert json.loads(s3.get_object(Bucket="receipts", Key="o-1.json")["Body"].read()) == {"orderId": "o-1"}


def test_sqs_send_message_and_sns_publish(cloud: Cloud, sfn: Any) -> None:
    # Given a queue, a topic delivering to a second queue, and a workflow sending to both
    sqs = cloud.client("sqs")
    sns = cloud.client("sns")
    direct, _ = queue(cloud, "direct")
    fanout, fanout_arn = queue(cloud, "fanout")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=fanout_arn, Attributes={"RawMessageDelivery": "true"}
    )
    notify = machine(
        sfn,
        "notify",
        {
            "Send": {
                **task(
                    "arn:aws:states:::sqs:sendMessage",
                    {"QueueUrl": direct, "MessageBody": {"orderId.$": "$.orderId"}},
                ),
                "ResultPath": "$.sent",
                "Next": "Publish",
            },
            "Publish": {
                **task(
                    "arn:aws:states:::sns:publish", {"TopicArn": topic, "Message": {"orderId.$": "$.orderId"}}
                ),
                "ResultPath": "$.published",
            },
        },
    )

    # When it runs
    result = output(run(sfn, notify, {"orderId": "o-1"}))

    # Then both messages arrived as JSON, and the results carry the message ids
    assert "MessageId" in result["sent"] and "MD5OfMessageBody" in result["sent"]
    assert "MessageId" in result["published"]
    assert json.loads(receive(sqs, direct)["Body"]) == {"orderId": "o-1"}
    assert json.loads(receive(sqs, fanout)["Body"]) == {"orderId": "o-1"}


def test_map_with_items_path_and_item_selector_and_parallel(sfn: Any) -> None:
    # Given a workflow mapping over an order's lines and running two branches in parallel
    lines = machine(
        sfn,
        "lines",
        {
            "Lines": {
                "Type": "Map",
                "ItemsPath": "$.order.lines",
                "ItemSelector": {
                    "orderId.$": "$.orderId",
                    "sku.$": "$$.Map.Item.Value.sku",
                    "index.$": "$$.Map.Item.Index",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Line",
                    "States": {"Line": {"Type": "Pass", "End": True}},
                },
                "ResultPath": "$.lines",
                "Next": "Both",
            },
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "invoice", "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "ship", "End": True}}},
                ],
                "ResultPath": "$.branches",
                "End": True,
            },
        },
    )

    # When it runs
    result = output(run(sfn, lines, {"orderId": "o-1", "order": {"lines": [{"sku": "a"}, {"sku": "b"}]}}))

    # Then each line got the selected fields, and both branches' results came back in order
    assert result["lines"] == [
        {"orderId": "o-1", "sku": "a", "index": 0},
        {"orderId": "o-1", "sku": "b", "index": 1},
    ]
    assert result["branches"] == ["invoice", "ship"]


def test_choice_decision_tree(sfn: Any) -> None:
    # Given a decision tree on amount, country and an optional coupon
    decide = machine(
        sfn,
        "decide",
        {
            "Decide": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.amount", "NumericGreaterThan": 1000},
                            {"Not": {"Variable": "$.country", "StringEquals": "NL"}},
                        ],
                        "Next": "Review",
                    },
                    {"Variable": "$.coupon", "IsPresent": True, "Next": "Discount"},
                ],
                "Default": "Accept",
            },
            "Review": {"Type": "Pass", "Result": "review", "End": True},
            "Discount": {"Type": "Pass", "Result": "discount", "End": True},
            "Accept": {"Type": "Pass", "Result": "accept", "End": True},
        },
    )

    # When orders of each kind run, Then each takes its branch
    assert output(run(sfn, decide, {"amount": 2000, "country": "DE"})) == "review"
    assert output(run(sfn, decide, {"amount": 2000, "country": "NL", "coupon": "X"})) == "discount"
    assert output(run(sfn, decide, {"amount": 10, "country": "NL"})) == "accept"
