"""The order API handler against moto: the orders table, the bus, the idempotency table, bad input."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.handlers.conftest import create_idempotency_table, load_handler
from tests.handlers.orders_conftest_helpers import (
    ORDER_BODY,
    ORDER_TOTAL,
    api_event,
    context,
    create_table,
    scan,
)

ORDERS = "orders"
BUS = "app-bus"
IDEMPOTENCY = "idempotency"


@pytest.fixture
def observed_queue(aws: None) -> str:
    """An SQS queue behind a rule on the app bus matching OrderPlaced: what the bus received."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=BUS)
    url = sqs.create_queue(QueueName="observed")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="order-placed",
        EventBusName=BUS,
        EventPattern=json.dumps({"source": ["myapp.orders"], "detail-type": ["OrderPlaced"]}),
    )
    events.put_targets(Rule="order-placed", EventBusName=BUS, Targets=[{"Id": "observed", "Arn": arn}])
    return str(url)


@pytest.fixture
def handler(aws: None, observed_queue: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the stack's resources: the orders table, the bus and the idempotency table
    create_table(ORDERS, "orderId")
    create_idempotency_table(IDEMPOTENCY)
    monkeypatch.setenv("ORDERS_TABLE_NAME", ORDERS)
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", IDEMPOTENCY)
    monkeypatch.setenv("IDEMPOTENCY_EXPIRY_SECONDS", "86400")
    module = load_handler("orders_api.handler")
    # No real back-off between PutEvents retries in tests.
    module.publisher()._sleep = lambda _: None
    return module


def published(queue_url: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def call(handler: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = handler.lambda_handler(event, context("orders-api"))
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(key.lower(), values[0])
    return response["statusCode"], json.loads(response["body"]), headers


def post(handler: ModuleType, body: Any, headers: dict[str, str] | None = None) -> Any:
    return call(handler, api_event("POST", "/orders", body=body, headers=headers))


def get(handler: ModuleType, order_id: str) -> Any:
    event = api_event(
        "GET", f"/orders/{order_id}", resource="/orders/{orderId}", path_parameters={"orderId": order_id}
    )
    return call(handler, event)


def test_posting_an_order_stores_it_pending_publishes_order_placed_and_answers_202(
    handler: ModuleType, observed_queue: str
) -> None:
    # When a valid order is posted
    status, body, headers = post(handler, ORDER_BODY)
    # Then the API accepts it with its id and where to poll it
    assert status == 202
    order_id = body["orderId"]
    assert body == {"orderId": order_id, "status": "PENDING"}
    assert headers["location"] == f"/orders/{order_id}"
    # And the order is stored PENDING with its lines and total
    [item] = scan(ORDERS)
    assert (item["orderId"], item["status"], item["totalCents"]) == (order_id, "PENDING", ORDER_TOTAL)
    assert item["createdAt"] == item["updatedAt"]
    # And OrderPlaced reached the app bus with the order
    [event] = published(observed_queue)
    assert (event["source"], event["detail-type"]) == ("myapp.orders", "OrderPlaced")
    assert event["detail"]["orderId"] == order_id
    assert event["detail"]["totalCents"] == ORDER_TOTAL
    assert event["detail"]["lines"] == ORDER_BODY["lines"]


def test_the_same_idempotency_key_twice_makes_one_order_and_the_same_answer(
    handler: ModuleType, observed_queue: str
) -> None:
    # Given an order posted with an Idempotency-Key
    first = post(handler, ORDER_BODY, {"Idempotency-Key": "key-123"})
    # When the client retries the same request (header names are case-insensitive)
    second = post(handler, ORDER_BODY, {"idempotency-key": "key-123"})
    # Then the same response comes back, and there is one order and one event
    assert first[0] == second[0] == 202
    assert first[1] == second[1]
    assert first[2]["location"] == second[2]["location"]
    assert len(scan(ORDERS)) == 1
    assert len(published(observed_queue)) == 1


def test_the_same_idempotency_key_with_another_body_is_refused(handler: ModuleType) -> None:
    post(handler, ORDER_BODY, {"Idempotency-Key": "key-123"})
    status, body, _ = post(handler, {**ORDER_BODY, "currency": "USD"}, {"Idempotency-Key": "key-123"})
    assert status == 422
    assert body == {"message": "Idempotency-Key reused with a different request"}
    assert len(scan(ORDERS)) == 1


def test_without_an_idempotency_key_each_post_is_a_new_order(handler: ModuleType) -> None:
    first = post(handler, ORDER_BODY)
    second = post(handler, ORDER_BODY)
    assert first[1]["orderId"] != second[1]["orderId"]
    assert len(scan(ORDERS)) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ORDER_BODY, "lines": [{"sku": "B-1", "quantity": 0, "unitPriceCents": 1}]}, "lines.0.quantity"),
        ({**ORDER_BODY, "lines": []}, "lines"),
        ({**ORDER_BODY, "currency": "JPY"}, "currency"),
        ({k: v for k, v in ORDER_BODY.items() if k != "customerId"}, "customerId"),
        ("{not json", "body"),
        (None, "body"),
    ],
)
def test_an_invalid_order_is_a_400_naming_the_field(
    handler: ModuleType, observed_queue: str, body: Any, field: str
) -> None:
    # When an order that breaks the contract is posted
    status, answer, _ = post(handler, body)
    # Then it is refused naming the field, and nothing is stored or published
    assert status == 400
    assert answer["message"] == "Invalid order"
    assert field in [error["field"] for error in answer["errors"]]
    assert scan(ORDERS) == [] and published(observed_queue) == []


def test_an_invalid_order_does_not_echo_the_payment_token(handler: ModuleType) -> None:
    _, answer, _ = post(handler, {**ORDER_BODY, "paymentToken": "tok_" + "x" * 80})
    assert "tok_" not in json.dumps(answer)


def test_an_unusable_idempotency_key_is_a_400(handler: ModuleType) -> None:
    status, answer, _ = post(handler, ORDER_BODY, {"Idempotency-Key": "has spaces"})
    assert status == 400 and answer["errors"][0]["field"] == "Idempotency-Key"


def test_getting_an_order_shows_it_without_the_payment_token(handler: ModuleType) -> None:
    # Given a placed order
    _, placed, _ = post(handler, ORDER_BODY)
    # When it is read
    status, order, _ = get(handler, placed["orderId"])
    # Then all its public fields come back, and never the payment token
    assert status == 200
    assert set(order) == {
        "orderId",
        "customerId",
        "status",
        "lines",
        "currency",
        "totalCents",
        "reason",
        "invoiceKey",
        "createdAt",
        "updatedAt",
    }
    assert (order["orderId"], order["status"], order["totalCents"]) == (
        placed["orderId"],
        "PENDING",
        ORDER_TOTAL,
    )
    assert order["lines"] == ORDER_BODY["lines"]
    assert order["reason"] is None and order["invoiceKey"] is None
    assert "tok_visa" not in json.dumps(order)


@pytest.mark.parametrize("order_id", ["0b7e0c8a-1d2f-4e3a-9b8c-7d6e5f4a3b21", "not-an-order-id"])
def test_an_unknown_order_is_a_404(handler: ModuleType, order_id: str) -> None:
    status, body, _ = get(handler, order_id)
    assert status == 404
    assert body == {"message": f"Order {order_id} not found"}


def test_an_unknown_route_is_the_resolvers_404(handler: ModuleType) -> None:
    status, _, _ = call(handler, api_event("DELETE", "/orders"))
    assert status == 404


def test_when_order_placed_cannot_be_published_the_order_fails_and_the_api_says_503(
    handler: ModuleType, observed_queue: str
) -> None:
    # Given an event bus that keeps failing the entry (FailedEntryCount > 0 on every attempt)
    calls: list[int] = []

    def failing_put_events(Entries: list[dict[str, Any]]) -> dict[str, Any]:
        calls.append(len(Entries))
        return {
            "FailedEntryCount": 1,
            "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service error"}],
        }

    client = handler.publisher()._client
    original = client.put_events
    client.put_events = failing_put_events
    # When an order is posted with an Idempotency-Key
    status, body, _ = post(handler, ORDER_BODY, {"Idempotency-Key": "key-503"})
    # Then the API answers 503 (never 202), after three attempts
    assert status == 503 and "message" in body
    assert calls == [1, 1, 1]
    # And the stored order is FAILED with the reason, so nothing waits on it
    [item] = scan(ORDERS)
    assert (item["status"], item["reason"]) == ("FAILED", "could not publish OrderPlaced")
    # And a retry with the same key, once the bus works again, places the order (no stored 503)
    client.put_events = original
    status, retried, _ = post(handler, ORDER_BODY, {"Idempotency-Key": "key-503"})
    assert status == 202 and retried["status"] == "PENDING"
    assert len(published(observed_queue)) == 1
    assert {item["status"] for item in scan(ORDERS)} == {"FAILED", "PENDING"}


def test_a_transiently_failing_entry_is_retried_and_the_order_accepted(
    handler: ModuleType, observed_queue: str
) -> None:
    # Given a bus that fails the entry once
    client = handler.publisher()._client
    original = client.put_events
    attempts: list[int] = []

    def flaky(Entries: list[dict[str, Any]]) -> dict[str, Any]:
        attempts.append(len(Entries))
        if len(attempts) == 1:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}]}
        return dict(original(Entries=Entries))

    client.put_events = flaky
    # When an order is posted
    status, _, _ = post(handler, ORDER_BODY)
    # Then it is accepted, and the event published once
    assert status == 202 and attempts == [1, 1]
    assert len(published(observed_queue)) == 1
