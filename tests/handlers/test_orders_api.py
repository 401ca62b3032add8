"""The order API handler against moto: caller identity, catalogue prices, the order and its token
stored together, Idempotency-Keys per caller, who may read an order, bad input."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.handlers.conftest import create_idempotency_table, load_handler
from tests.handlers.logs import correlation_ids, log_lines
from tests.handlers.orders_conftest_helpers import (
    ORDER_BODY,
    ORDER_LINES,
    ORDER_TOTAL,
    PERSON,
    PERSON_ID,
    PRICES,
    SERVICE,
    SERVICE_ARN,
    api_event,
    context,
    create_table,
    scan,
)

ORDERS = "orders"
TOKENS = "payment-tokens"
INVENTORY = "inventory"
IDEMPOTENCY = "idempotency"
TOKEN_TTL = 86400
OTHER_SERVICE = {**SERVICE, "userArn": "arn:aws:iam::123456789012:user/another-service"}
OTHER_PERSON = {**PERSON, "cognitoIdentityId": "us-east-1:00000000-1111-4222-8333-444444444444"}


def stock(sku: str, *, price_cents: int | None, currency: str = "EUR") -> None:
    item: dict[str, Any] = {
        "sku": {"S": sku},
        "available": {"N": "10"},
        "reserved": {"N": "0"},
        "sold": {"N": "0"},
        "currency": {"S": currency},
    }
    if price_cents is not None:
        item["priceCents"] = {"N": str(price_cents)}
    boto3.client("dynamodb").put_item(TableName=INVENTORY, Item=item)


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the stack's resources: the orders, payment tokens, inventory and idempotency tables,
    # and a catalogue that prices ORDER_BODY's SKUs in EUR
    create_table(ORDERS, "orderId")
    create_table(TOKENS, "paymentRef")
    create_table(INVENTORY, "sku")
    create_idempotency_table(IDEMPOTENCY)
    for sku, price in PRICES.items():
        stock(sku, price_cents=price)
    monkeypatch.setenv("ORDERS_TABLE_NAME", ORDERS)
    monkeypatch.setenv("PAYMENT_TOKENS_TABLE_NAME", TOKENS)
    monkeypatch.setenv("INVENTORY_TABLE_NAME", INVENTORY)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", IDEMPOTENCY)
    monkeypatch.setenv("IDEMPOTENCY_EXPIRY_SECONDS", "86400")
    monkeypatch.setenv("PAYMENT_TOKEN_TTL_SECONDS", str(TOKEN_TTL))
    return load_handler("orders_api.handler")


def call(
    handler: ModuleType, event: dict[str, Any], lambda_context: Any = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = handler.lambda_handler(event, lambda_context or context("orders-api"))
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(key.lower(), values[0])
    return response["statusCode"], json.loads(response["body"]), headers


def post(
    handler: ModuleType,
    body: Any,
    headers: dict[str, str] | None = None,
    *,
    caller: dict[str, Any] = SERVICE,
    lambda_context: Any = None,
) -> Any:
    return call(
        handler, api_event("POST", "/orders", body=body, headers=headers, identity=caller), lambda_context
    )


def get(handler: ModuleType, order_id: str, *, caller: dict[str, Any] = SERVICE) -> Any:
    event = api_event(
        "GET",
        f"/orders/{order_id}",
        resource="/orders/{orderId}",
        path_parameters={"orderId": order_id},
        identity=caller,
    )
    return call(handler, event)


# -- placing an order ------------------------------------------------------------------------------


def test_an_order_is_stored_pending_at_catalogue_prices_with_its_token_apart_and_answered_202(
    handler: ModuleType,
) -> None:
    # When a service posts an order (no prices, no customer in the body)
    before = int(time.time())
    status, body, headers = post(handler, ORDER_BODY)
    # Then the API accepts it with its id and where to poll it
    assert status == 202
    order_id = body["orderId"]
    assert body == {"orderId": order_id, "status": "PENDING"}
    assert headers["location"] == f"/orders/{order_id}"
    # And the order is stored PENDING at the catalogue's prices, for the caller, with no token
    [item] = scan(ORDERS)
    assert (item["orderId"], item["status"], item["totalCents"]) == (order_id, "PENDING", ORDER_TOTAL)
    assert item["lines"] == ORDER_LINES
    assert (item["customerId"], item["placedBy"], item["currency"]) == (SERVICE_ARN, SERVICE_ARN, "EUR")
    assert item["createdAt"] == item["updatedAt"]
    assert re.fullmatch(r"pay_[0-9a-f]{32}", item["paymentRef"])
    assert "tok_visa" not in json.dumps(item, default=str)
    # And the token is kept only in the PaymentTokens table, under the order's paymentRef, for a day
    [token] = scan(TOKENS)
    assert (token["paymentRef"], token["orderId"], token["token"]) == (
        item["paymentRef"],
        order_id,
        "tok_visa",
    )
    assert before + TOKEN_TTL <= token["expiresAt"] <= int(time.time()) + TOKEN_TTL


def test_a_cognito_caller_is_the_customer(handler: ModuleType) -> None:
    status, _, _ = post(handler, ORDER_BODY, caller=PERSON)
    assert status == 202
    [item] = scan(ORDERS)
    assert (item["customerId"], item["placedBy"]) == (PERSON_ID, PERSON_ID)


def test_a_service_may_order_on_behalf_of_a_customer_and_is_recorded_as_placing_it(
    handler: ModuleType,
) -> None:
    status, _, _ = post(handler, {**ORDER_BODY, "onBehalfOf": "customer-0001"})
    assert status == 202
    [item] = scan(ORDERS)
    assert (item["customerId"], item["placedBy"]) == ("customer-0001", SERVICE_ARN)


def test_a_cognito_caller_cannot_order_on_behalf_of_someone_else(handler: ModuleType) -> None:
    status, body, _ = post(handler, {**ORDER_BODY, "onBehalfOf": "customer-0001"}, caller=PERSON)
    assert status == 403 and "customer-0001" not in json.dumps(body)
    assert scan(ORDERS) == [] and scan(TOKENS) == []


def test_a_request_with_no_caller_identity_is_refused(handler: ModuleType) -> None:
    status, _, _ = post(handler, ORDER_BODY, caller={"sourceIp": "203.0.113.10"})
    assert status == 403 and scan(ORDERS) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ORDER_BODY, "lines": [{"sku": "BOOK-0001", "quantity": 0}]}, "lines.0.quantity"),
        ({**ORDER_BODY, "lines": []}, "lines"),
        ({**ORDER_BODY, "currency": "JPY"}, "currency"),
        # A client cannot set the price or the customer: such a body is refused.
        ({**ORDER_BODY, "lines": ORDER_LINES}, "lines.0.unitPriceCents"),
        ({**ORDER_BODY, "customerId": "someone-else"}, "customerId"),
        ({k: v for k, v in ORDER_BODY.items() if k != "paymentToken"}, "paymentToken"),
        ("{not json", "body"),
        (None, "body"),
    ],
)
def test_an_invalid_order_is_a_400_naming_the_field(handler: ModuleType, body: Any, field: str) -> None:
    # When an order that breaks the contract is posted
    status, answer, _ = post(handler, body)
    # Then it is refused naming the field, and nothing is stored
    assert status == 400
    assert answer["message"] == "Invalid order"
    assert field in [error["field"] for error in answer["errors"]]
    assert scan(ORDERS) == [] and scan(TOKENS) == []


@pytest.mark.parametrize(
    ("setup", "why"),
    [
        (lambda: None, "unknown sku"),
        (lambda: stock("ZQ7SENTINEL-SKU", price_cents=None), "this sku has no price"),
        (
            lambda: stock("ZQ7SENTINEL-SKU", price_cents=500, currency="USD"),
            "not sold in the order's currency",
        ),
    ],
    ids=["unknown", "no-price", "other-currency"],
)
def test_a_line_the_catalogue_cannot_price_is_a_400_without_echoing_the_input(
    handler: ModuleType, setup: Any, why: str
) -> None:
    # Given a SKU the catalogue does not sell at a price in EUR
    setup()
    lines = [ORDER_BODY["lines"][0], {"sku": "ZQ7SENTINEL-SKU", "quantity": 1}]
    # When it is ordered
    status, answer, _ = post(handler, {**ORDER_BODY, "lines": lines})
    # Then the line is refused by position and reason, the SKU not repeated; nothing is stored
    assert status == 400
    assert answer["errors"] == [{"field": "lines.1.sku", "error": answer["errors"][0]["error"]}]
    assert why in answer["errors"][0]["error"]
    assert "ZQ7SENTINEL" not in json.dumps(answer)
    assert scan(ORDERS) == [] and scan(TOKENS) == []


def test_an_invalid_order_does_not_echo_the_payment_token(handler: ModuleType) -> None:
    _, answer, _ = post(handler, {**ORDER_BODY, "paymentToken": "tok_" + "x" * 80})
    assert "tok_" not in json.dumps(answer)


# -- Idempotency-Key -------------------------------------------------------------------------------


def test_the_same_idempotency_key_twice_makes_one_order_and_the_same_answer(handler: ModuleType) -> None:
    # Given an order posted with an Idempotency-Key
    first = post(handler, ORDER_BODY, {"Idempotency-Key": "key-123"})
    # When the client retries the same request (header names are case-insensitive)
    second = post(handler, ORDER_BODY, {"idempotency-key": "key-123"})
    # Then the same response comes back, and there is one order and one token
    assert first[0] == second[0] == 202
    assert first[1] == second[1]
    assert first[2]["location"] == second[2]["location"]
    assert len(scan(ORDERS)) == 1 and len(scan(TOKENS)) == 1


def test_two_callers_using_the_same_key_place_two_orders(handler: ModuleType) -> None:
    # Given two callers who happen to use the same Idempotency-Key
    mine = post(handler, ORDER_BODY, {"Idempotency-Key": "key-123"}, caller=SERVICE)
    theirs = post(handler, ORDER_BODY, {"Idempotency-Key": "key-123"}, caller=OTHER_SERVICE)
    person = post(handler, ORDER_BODY, {"Idempotency-Key": "key-123"}, caller=PERSON)
    # Then each has an order of their own: nobody gets another caller's answer
    assert mine[0] == theirs[0] == person[0] == 202
    assert len({mine[1]["orderId"], theirs[1]["orderId"], person[1]["orderId"]}) == 3
    assert {item["customerId"] for item in scan(ORDERS)} == {SERVICE_ARN, OTHER_SERVICE["userArn"], PERSON_ID}


def test_the_same_idempotency_key_with_another_body_is_refused(handler: ModuleType) -> None:
    post(handler, ORDER_BODY, {"Idempotency-Key": "key-123"})
    other = {**ORDER_BODY, "lines": [{"sku": "BOOK-0001", "quantity": 1}]}
    status, body, _ = post(handler, other, {"Idempotency-Key": "key-123"})
    assert status == 422
    assert body == {"message": "Idempotency-Key reused with a different request"}
    assert len(scan(ORDERS)) == 1


class Crash(BaseException):
    """The sandbox dying (timeout, out of memory): no `except Exception` runs, nothing is cleaned up."""


@dataclass
class ShortContext:
    """A Lambda context with 1 ms left: the idempotency record's in-progress window ends at once."""

    function_name: str = "orders-api"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:orders-api"
    aws_request_id: str = "req-crash"

    def get_remaining_time_in_millis(self) -> int:
        return 1


def test_a_retry_after_a_crash_right_after_the_store_returns_the_same_order(handler: ModuleType) -> None:
    # Given an invocation that dies right after the order and its token were stored, leaving its
    # idempotency record in progress (and that window then ending, as it does with the invocation)
    store = handler.orders()
    real_create = store.create

    def create_then_crash(order: Any) -> None:
        real_create(order)
        raise Crash

    store.create = create_then_crash
    with pytest.raises(Crash):
        post(handler, ORDER_BODY, {"Idempotency-Key": "key-crash"}, lambda_context=ShortContext())
    [stored] = scan(ORDERS)
    store.create = real_create
    time.sleep(0.01)
    # When the client retries with the same key
    status, body, _ = post(handler, ORDER_BODY, {"Idempotency-Key": "key-crash"})
    # Then it gets the order that was stored, and there is still one order and one token
    assert status == 202 and body["orderId"] == stored["orderId"]
    assert len(scan(ORDERS)) == 1 and len(scan(TOKENS)) == 1
    # And a retry once more gets the same answer from the idempotency record
    assert post(handler, ORDER_BODY, {"Idempotency-Key": "key-crash"})[1] == body


def test_after_a_crash_the_key_with_another_body_is_refused(handler: ModuleType) -> None:
    store = handler.orders()
    real_create = store.create

    def create_then_crash(order: Any) -> None:
        real_create(order)
        raise Crash

    store.create = create_then_crash
    with pytest.raises(Crash):
        post(handler, ORDER_BODY, {"Idempotency-Key": "key-crash"}, lambda_context=ShortContext())
    store.create = real_create
    time.sleep(0.01)
    other = {**ORDER_BODY, "lines": [{"sku": "BOOK-0001", "quantity": 1}]}
    status, _, _ = post(handler, other, {"Idempotency-Key": "key-crash"})
    assert status == 422 and len(scan(ORDERS)) == 1


def test_without_an_idempotency_key_each_post_is_a_new_order(handler: ModuleType) -> None:
    first = post(handler, ORDER_BODY)
    second = post(handler, ORDER_BODY)
    assert first[1]["orderId"] != second[1]["orderId"]
    assert len(scan(ORDERS)) == 2


def test_an_unusable_idempotency_key_is_a_400(handler: ModuleType) -> None:
    status, answer, _ = post(handler, ORDER_BODY, {"Idempotency-Key": "has spaces"})
    assert status == 400 and answer["errors"][0]["field"] == "Idempotency-Key"


# -- reading an order ------------------------------------------------------------------------------


def test_the_customer_reads_the_order_without_token_or_payment_reference(handler: ModuleType) -> None:
    # Given an order a customer placed
    _, placed, _ = post(handler, ORDER_BODY, caller=PERSON)
    # When the customer reads it
    status, order, _ = get(handler, placed["orderId"], caller=PERSON)
    # Then its public fields come back, never the token or where it is kept
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
    assert (order["orderId"], order["customerId"], order["status"], order["totalCents"]) == (
        placed["orderId"],
        PERSON_ID,
        "PENDING",
        ORDER_TOTAL,
    )
    assert order["lines"] == ORDER_LINES
    assert order["reason"] is None and order["invoiceKey"] is None
    assert "tok_visa" not in json.dumps(order) and "pay_" not in json.dumps(order)


def test_the_service_that_placed_an_order_for_a_customer_reads_it(handler: ModuleType) -> None:
    _, placed, _ = post(handler, {**ORDER_BODY, "onBehalfOf": "customer-0001"})
    status, order, _ = get(handler, placed["orderId"], caller=SERVICE)
    assert status == 200 and order["customerId"] == "customer-0001"


@pytest.mark.parametrize(
    ("owner", "reader"),
    [(PERSON, OTHER_PERSON), (SERVICE, OTHER_SERVICE), (SERVICE, PERSON), (PERSON, SERVICE)],
    ids=["person-person", "service-service", "service-person", "person-service"],
)
def test_another_caller_cannot_read_an_order(
    handler: ModuleType, owner: dict[str, Any], reader: dict[str, Any]
) -> None:
    # Given an order of one caller
    _, placed, _ = post(handler, ORDER_BODY, caller=owner)
    # When another caller asks for it
    status, body, _ = get(handler, placed["orderId"], caller=reader)
    # Then it is not found, as if it did not exist
    assert status == 404 and body == {"message": "Order not found"}


@pytest.mark.parametrize(
    "order_id",
    [
        "0b7e0c8a-1d2f-4e3a-9b8c-7d6e5f4a3b21",
        "not-an-order-id",
        "0B7E0C8A-1D2F-4E3A-9B8C-7D6E5F4A3B21",
        "x" * 2000,
    ],
    ids=["unknown", "not-a-uuid", "upper-case", "huge"],
)
def test_an_unknown_or_malformed_order_id_is_a_404_that_does_not_echo_it(
    handler: ModuleType, order_id: str
) -> None:
    status, body, _ = get(handler, order_id)
    assert status == 404
    assert body == {"message": "Order not found"}


def test_an_unknown_route_is_the_resolvers_404(handler: ModuleType) -> None:
    status, _, _ = call(handler, api_event("DELETE", "/orders", identity=SERVICE))
    assert status == 404


def test_the_log_lines_of_a_placed_order_carry_its_id_as_correlation_id(handler: ModuleType) -> None:
    # When an order is placed, then read
    with log_lines(handler.logger) as placing:
        _, body, _ = post(handler, ORDER_BODY)
    with log_lines(handler.logger) as reading:
        get(handler, body["orderId"])
        handler.logger.info("a line while reading it")
    # Then the line saying it is stored, and those of reading it, carry the order's id
    assert [line["correlation_id"] for line in placing if line["message"] == "Order stored"] == [
        body["orderId"]
    ]
    assert set(correlation_ids(reading)) == {body["orderId"]}
