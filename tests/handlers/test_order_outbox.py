"""The orders-table outbox against moto: an order stored by intake reaches the bus as OrderPlaced,
from the table's own stream records; failures are reported per record, for the stream to retry."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from orders_api.adapters import DynamoDBOrders
from orders_api.service import Caller, CatalogueItem, place_order
from shared.contracts.orders import OrderPlaced, PlaceOrderRequest
from tests.handlers.conftest import load_handler
from tests.handlers.logs import correlation_ids, log_lines
from tests.handlers.orders_conftest_helpers import ORDER_BODY, ORDER_LINES, ORDER_TOTAL, PRICES, context

BUS = "app-bus"
ORDERS = "orders"
TOKENS = "payment-tokens"
CALLER = Caller(id="arn:aws:iam::123456789012:user/shop-frontend", is_person=False)


class Catalogue:
    def items(self, skus: Any) -> dict[str, CatalogueItem]:
        return {sku: CatalogueItem(sku, PRICES[sku], "EUR") for sku in skus}


@pytest.fixture
def observed(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    # Given the app's bus with a rule copying every order event to a queue we can read
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=BUS)
    url = sqs.create_queue(QueueName="observed")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="orders", EventBusName=BUS, EventPattern=json.dumps({"source": ["myapp.orders"]}))
    events.put_targets(Rule="orders", EventBusName=BUS, Targets=[{"Id": "observed", "Arn": arn}])
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    return str(url)


@pytest.fixture
def handler(observed: str) -> ModuleType:
    module = load_handler("order_outbox.handler")
    module.publisher()._sleep = lambda _: None  # no real back-off between PutEvents retries
    return module


@pytest.fixture
def stream_arn(aws: None) -> str:
    """The orders table with its stream (NEW_AND_OLD_IMAGES), and the payment tokens table."""
    dynamodb = boto3.client("dynamodb")
    table = dynamodb.create_table(
        TableName=ORDERS,
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.create_table(
        TableName=TOKENS,
        KeySchema=[{"AttributeName": "paymentRef", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "paymentRef", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return str(table["TableDescription"]["LatestStreamArn"])


def stream_records(stream_arn: str) -> list[dict[str, Any]]:
    """Every record of the table's stream so far, shaped as Lambda delivers them."""
    # botocore's default DynamoDB Streams endpoint is not routed by moto 5.2.5 ("Not yet implemented").
    streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
    [shard] = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    for record in records:
        record["eventSourceARN"] = stream_arn
    return list(json.loads(json.dumps(records, default=str)))


def place(order_id_suffix: str = "") -> str:
    """An order stored by intake's own service and adapter (order and token in one transaction)."""
    orders = DynamoDBOrders(boto3.client("dynamodb"), orders_table=ORDERS, tokens_table=TOKENS)
    placed = place_order(
        PlaceOrderRequest.model_validate(ORDER_BODY),
        CALLER,
        orders=orders,
        catalogue=Catalogue(),
        token_ttl_seconds=86400,
        now=lambda: "2026-11-22T10:00:00.000Z",
    )
    return placed["orderId"]


def published(queue_url: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_an_order_stored_by_intake_is_published_as_order_placed_without_its_token(
    handler: ModuleType, observed: str, stream_arn: str
) -> None:
    # Given an order intake stored (PENDING, priced, its token in the tokens table)
    order_id = place()
    # When the outbox gets the table's stream records
    response = handler.lambda_handler({"Records": stream_records(stream_arn)}, context("order-outbox"))
    # Then nothing failed, and OrderPlaced reached the bus with the order as stored
    assert response == {"batchItemFailures": []}
    [event] = published(observed)
    assert (event["source"], event["detail-type"]) == ("myapp.orders", "OrderPlaced")
    detail = OrderPlaced.model_validate(event["detail"])
    assert (detail.orderId, detail.customerId, detail.totalCents) == (order_id, CALLER.id, ORDER_TOTAL)
    assert [line.model_dump() for line in detail.lines] == ORDER_LINES
    assert detail.paymentRef.startswith("pay_")
    assert "tok_visa" not in json.dumps(event)


def test_a_redelivered_batch_publishes_again_at_least_once(
    handler: ModuleType, observed: str, stream_arn: str
) -> None:
    # The stream retries batches: the outbox publishes again, consumers are idempotent.
    place()
    records = stream_records(stream_arn)
    handler.lambda_handler({"Records": records}, context("order-outbox"))
    handler.lambda_handler({"Records": records}, context("order-outbox"))
    events = published(observed) + published(observed)
    assert [e["detail-type"] for e in events] == ["OrderPlaced", "OrderPlaced"]
    assert events[0]["detail"] == events[1]["detail"]


def test_a_status_change_publishes_its_transition(
    handler: ModuleType, observed: str, stream_arn: str
) -> None:
    # Given an order that then moves to PROCESSING (a MODIFY record), then is written again unchanged
    order_id = place()
    for _ in range(2):
        boto3.client("dynamodb").update_item(
            TableName=ORDERS,
            Key={"orderId": {"S": order_id}},
            UpdateExpression="SET #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "PROCESSING"}},
        )
    records = stream_records(stream_arn)
    assert [r["eventName"] for r in records][:2] == ["INSERT", "MODIFY"]
    # When the outbox handles them
    handler.lambda_handler({"Records": records}, context("order-outbox"))
    # Then the INSERT and the one transition were published
    assert [e["detail-type"] for e in published(observed)] == ["OrderPlaced", "OrderStatusChanged"]


def test_a_record_whose_events_cannot_be_published_fails_alone(
    handler: ModuleType, observed: str, stream_arn: str
) -> None:
    # Given two new orders, and a bus that keeps failing the entry of the second
    place()
    place()
    records = stream_records(stream_arn)
    second_order = records[1]["dynamodb"]["NewImage"]["orderId"]["S"]
    client = handler.publisher()._client
    original = client.put_events

    def put_events(Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if second_order in Entries[0]["Detail"]:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}]}
        return dict(original(Entries=Entries))

    client.put_events = put_events
    # When the outbox handles the batch
    response = handler.lambda_handler({"Records": records}, context("order-outbox"))
    # Then only the second record is reported failed (the stream retries from it)
    assert response == {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
    [event] = published(observed)
    assert event["detail"]["orderId"] != second_order


def test_a_row_that_makes_no_valid_event_fails_its_record_for_the_dlq(
    handler: ModuleType, observed: str, stream_arn: str
) -> None:
    # Given a row written by hand without a payment reference
    boto3.client("dynamodb").put_item(
        TableName=ORDERS,
        Item={"orderId": {"S": "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"}, "status": {"S": "PENDING"}},
    )
    # When the outbox gets its record, the whole (one-record) batch fails: retried, then the DLQ
    with pytest.raises(BatchProcessingError):
        handler.lambda_handler({"Records": stream_records(stream_arn)}, context("order-outbox"))
    assert published(observed) == []


def test_the_outbox_needs_its_bus_at_init(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENT_BUS_NAME", raising=False)
    with pytest.raises(RuntimeError, match="EVENT_BUS_NAME is not set"):
        load_handler("order_outbox.handler")


def test_each_records_log_lines_carry_its_order_id_and_nothing_sticks_after_it(
    handler: ModuleType, observed: str, stream_arn: str
) -> None:
    # Given two orders stored by intake
    first, second = place(), place("-2")
    # When the outbox gets their stream records in one batch
    with log_lines(handler.logger) as lines:
        handler.lambda_handler({"Records": stream_records(stream_arn)}, context("order-outbox"))
        handler.logger.info("after the batch")
    # Then each record's line carries its own order's id, and the id is cleared after the record
    assert correlation_ids(lines) == [first, second, None]
