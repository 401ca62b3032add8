"""The order contracts: the POST /orders body and the order events, good and bad inputs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts.orders import (
    FINAL_STATUSES,
    ORDER_EVENTS,
    OrderCompleted,
    OrderFailed,
    OrderNeedsAttention,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
    PlaceOrderRequest,
)
from shared.contracts.registry import contract_for

ROOT = Path(__file__).resolve().parents[2]
ORDER_ID = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"
PAYMENT_REF = "pay_5f0c3a2e9b8d4c7a1e6f2d0b9a8c7e6d"
REQUESTED = [{"sku": "BOOK-0001", "quantity": 2}, {"sku": "MUG-0042", "quantity": 1}]
LINES = [
    {"sku": "BOOK-0001", "quantity": 2, "unitPriceCents": 1250},
    {"sku": "MUG-0042", "quantity": 1, "unitPriceCents": 899},
]
BODY: dict[str, Any] = {"lines": REQUESTED, "currency": "EUR", "paymentToken": "tok_visa"}


def body(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BODY), **changes}


def errors_of(model: type[Any], data: Any) -> set[str]:
    with pytest.raises(ValidationError) as error:
        model.model_validate(data)
    return {".".join(str(p) for p in e["loc"]) for e in error.value.errors()}


# -- PlaceOrderRequest -----------------------------------------------------------------------------


def test_a_valid_order_request_is_accepted_with_its_skus_and_quantities() -> None:
    # Given the sample request body of POST /orders
    data = json.loads((ROOT / "events" / "api" / "place_order.json").read_text())
    # When it is parsed
    request = PlaceOrderRequest.model_validate(data)
    # Then it names what to buy, in which currency, and nobody to buy it for
    assert [(line.sku, line.quantity) for line in request.lines] == [("BOOK-0001", 2), ("MUG-0042", 1)]
    assert (request.currency, request.onBehalfOf) == ("EUR", None)


def test_the_declined_sample_is_a_valid_request_with_the_declined_token() -> None:
    data = json.loads((ROOT / "events" / "api" / "place_order_declined.json").read_text())
    assert PlaceOrderRequest.model_validate(data).paymentToken == "tok_declined"


def test_a_service_may_name_the_customer_it_acts_for_trimmed() -> None:
    assert PlaceOrderRequest.model_validate(body(onBehalfOf="  c-1  ")).onBehalfOf == "c-1"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (body(lines=[]), "lines"),
        (body(lines=[REQUESTED[0]] * 51), "lines"),
        (body(lines=[REQUESTED[0], {**REQUESTED[0], "quantity": 5}]), "lines"),  # the same sku twice
        (body(lines=[{**REQUESTED[0], "sku": "book-1"}]), "lines.0.sku"),
        (body(lines=[{**REQUESTED[0], "sku": "-BOOK"}]), "lines.0.sku"),
        (body(lines=[{**REQUESTED[0], "sku": "BOOK 1"}]), "lines.0.sku"),
        (body(lines=[{**REQUESTED[0], "sku": "B" * 65}]), "lines.0.sku"),
        (body(lines=[{**REQUESTED[0], "sku": ""}]), "lines.0.sku"),
        (body(lines=[{**REQUESTED[0], "quantity": 0}]), "lines.0.quantity"),
        (body(lines=[{**REQUESTED[0], "quantity": 101}]), "lines.0.quantity"),
        (body(lines=[{**REQUESTED[0], "quantity": "two"}]), "lines.0.quantity"),
        (body(lines=[{"sku": "BOOK-0001"}]), "lines.0.quantity"),
        # The client names no price and no customer: such fields are refused, not ignored.
        (body(lines=[LINES[0]]), "lines.0.unitPriceCents"),
        (body(lines=[{**REQUESTED[0], "discount": 5}]), "lines.0.discount"),
        (body(customerId="customer-0001"), "customerId"),
        (body(onBehalfOf=""), "onBehalfOf"),
        (body(onBehalfOf="   "), "onBehalfOf"),
        (body(onBehalfOf="c" * 257), "onBehalfOf"),
        (body(onBehalfOf="c-1\r\nX-Injected: yes"), "onBehalfOf"),
        (body(currency="JPY"), "currency"),
        (body(currency="eur"), "currency"),
        (body(paymentToken=""), "paymentToken"),
        (body(paymentToken="t" * 65), "paymentToken"),
        ({k: v for k, v in BODY.items() if k != "paymentToken"}, "paymentToken"),
        (body(isAdmin=True), "isAdmin"),
    ],
)
def test_a_malformed_order_request_is_rejected_naming_the_field(data: dict[str, Any], field: str) -> None:
    # Given a body that breaks the contract
    # When it is parsed
    # Then the error names the offending field (with its position in the lines)
    assert field in errors_of(PlaceOrderRequest, data)


def test_a_duplicate_sku_error_says_what_to_do_without_naming_the_sku() -> None:
    with pytest.raises(ValidationError, match="a sku appears on more than one line") as error:
        PlaceOrderRequest.model_validate(body(lines=[REQUESTED[0], REQUESTED[0]]))
    assert "BOOK-0001" not in json.dumps(
        error.value.errors(include_input=False, include_url=False), default=str
    )


@pytest.mark.parametrize("data", ["a string", 42, [BODY], None])
def test_a_body_that_is_not_an_object_is_rejected(data: object) -> None:
    with pytest.raises(ValidationError):
        PlaceOrderRequest.model_validate(data)


# -- events ----------------------------------------------------------------------------------------


def placed(**changes: Any) -> dict[str, Any]:
    return {
        "orderId": ORDER_ID,
        "customerId": "customer-0001",
        "lines": copy.deepcopy(LINES),
        "currency": "EUR",
        "totalCents": 3399,
        "paymentRef": PAYMENT_REF,
        "placedAt": "2026-11-22T10:00:00.000Z",
        **changes,
    }


def test_every_order_event_names_its_source_and_detail_type() -> None:
    assert (
        OrderPlaced,
        OrderStatusChanged,
        OrderRejected,
        OrderFailed,
        OrderCompleted,
        OrderNeedsAttention,
    ) == ORDER_EVENTS
    for model in ORDER_EVENTS:
        assert model.SOURCE == "myapp.orders"
        assert model.__name__ == model.DETAIL_TYPE
        assert contract_for(model.SOURCE, model.DETAIL_TYPE) is model


def test_an_order_placed_detail_round_trips_as_flat_json() -> None:
    # Given an OrderPlaced as the API publishes it
    event = OrderPlaced.model_validate(placed())
    # When it is serialized for PutEvents and parsed back by a consumer
    detail = json.loads(event.model_dump_json())
    # Then numbers stay numbers, the version is 1.0, and it parses to the same event
    assert detail["totalCents"] == 3399 and detail["lines"][0]["quantity"] == 2
    assert detail["version"] == "1.0"
    assert OrderPlaced.model_validate(detail) == event


def test_order_placed_carries_a_payment_reference_and_never_a_token() -> None:
    # Given an OrderPlaced built from data that (wrongly) holds a token as well
    event = OrderPlaced.model_validate({**placed(), "paymentToken": "tok_visa"})
    # When it is serialized for PutEvents
    detail = event.model_dump_json()
    # Then it names the payment by reference only: the token is not in the model, so never serialized
    assert json.loads(detail)["paymentRef"] == PAYMENT_REF
    assert "paymentToken" not in OrderPlaced.model_fields and "tok_visa" not in detail


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"orderId": "not-a-uuid"}, "orderId"),
        ({"orderId": ORDER_ID.upper()}, "orderId"),
        ({"totalCents": 3398}, ""),  # not the sum of the lines
        ({"totalCents": -1}, "totalCents"),
        ({"placedAt": "yesterday"}, "placedAt"),
        ({"lines": []}, "lines"),
        ({"currency": "CHF"}, "currency"),
        ({"version": "2.0"}, "version"),
        ({"paymentRef": "pay_" + "A" * 32}, "paymentRef"),
        ({"paymentRef": "pay_" + "a" * 31}, "paymentRef"),
        ({"paymentRef": "tok_visa"}, "paymentRef"),
        ({"lines": [{"sku": "BOOK-0001", "quantity": 1}]}, "lines.0.unitPriceCents"),
    ],
)
def test_a_malformed_order_placed_is_rejected(changes: dict[str, Any], field: str) -> None:
    assert field in errors_of(OrderPlaced, placed(**changes))


def test_a_status_change_without_a_reason_is_valid() -> None:
    # Given a status change as the workflow builds it in ASL: no reason, Step Functions' timestamp
    change = OrderStatusChanged.model_validate(
        {
            "version": "1.0",
            "orderId": ORDER_ID,
            "customerId": "c-1",
            "status": "PAID",
            "changedAt": "2026-11-22T10:00:01.25Z",
        }
    )
    # Then the reason is None
    assert (change.status, change.reason) == ("PAID", None)


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ({"status": "SHIPPED"}, "status"),
        ({"status": "PAID", "changedAt": "10 o'clock"}, "changedAt"),
        ({"status": "PAID", "reason": ""}, "reason"),
    ],
)
def test_a_malformed_status_change_is_rejected(detail: dict[str, Any], field: str) -> None:
    data = {"orderId": ORDER_ID, "customerId": "c-1", "changedAt": "2026-11-22T10:00:00Z", **detail}
    assert field in errors_of(OrderStatusChanged, data)


def test_an_order_failed_with_a_refund_is_valid_and_currency_is_optional() -> None:
    failed = OrderFailed.model_validate(
        {"orderId": ORDER_ID, "customerId": "c-1", "reason": "X", "refunded": True, "refundedCents": 500}
    )
    assert (failed.refunded, failed.refundedCents, failed.currency) == (True, 500, None)


@pytest.mark.parametrize(
    "detail",
    [
        {"refunded": False, "refundedCents": 500},  # money back, yet not refunded
        {"refunded": True, "refundedCents": -5},
        {"refunded": True},
        {"refundedCents": 0},
    ],
)
def test_an_inconsistent_order_failed_is_rejected(detail: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        OrderFailed.model_validate({"orderId": ORDER_ID, "customerId": "c-1", "reason": "X", **detail})


def test_order_rejected_and_completed_need_their_fields() -> None:
    assert "reason" in errors_of(OrderRejected, {"orderId": ORDER_ID, "customerId": "c-1"})
    assert "invoiceKey" in errors_of(
        OrderCompleted, {"orderId": ORDER_ID, "customerId": "c-1", "totalCents": 1, "currency": "EUR"}
    )


@pytest.mark.parametrize(
    "name",
    ["order_placed", "order_status_changed", "order_completed", "order_failed", "order_rejected"],
)
def test_each_order_sample_entry_is_for_the_default_bus_and_its_contract(name: str) -> None:
    # Given the sample entry file, as `aws events put-events --entries file://...` reads it
    [entry] = json.loads((ROOT / "events" / f"{name}.json").read_text())
    # Then it goes to the default bus (forwarded to the app's bus) and its contract accepts it
    assert entry["EventBusName"] == "default"
    assert entry["Source"] == "myapp.orders"
    contract_for(entry["Source"], entry["DetailType"]).model_validate_json(entry["Detail"])


# -- statuses and NEEDS_ATTENTION ------------------------------------------------------------------


@pytest.mark.parametrize("status", ["PROCESSING", "NEEDS_ATTENTION"])
def test_a_status_change_may_name_the_new_statuses(status: str) -> None:
    change = OrderStatusChanged.model_validate(
        {"orderId": ORDER_ID, "customerId": "c-1", "status": status, "changedAt": "2026-11-22T10:00:00Z"}
    )
    assert change.status == status


def test_the_final_statuses_are_those_nothing_moves_on_from() -> None:
    assert {"REJECTED", "COMPLETED", "FAILED", "NEEDS_ATTENTION"} == FINAL_STATUSES


def test_an_order_needing_attention_says_why_and_where_it_was() -> None:
    # Given an order stuck in PAID past its deadline
    detail = {
        "orderId": ORDER_ID,
        "customerId": "c-1",
        "reason": "past its deadline",
        "previousStatus": "PAID",
    }
    # Then the event parses and round-trips
    event = OrderNeedsAttention.model_validate(detail)
    assert OrderNeedsAttention.model_validate_json(event.model_dump_json()) == event
    assert contract_for("myapp.orders", "OrderNeedsAttention") is OrderNeedsAttention


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"previousStatus": "SHIPPED"}, "previousStatus"),
        ({"orderId": "x"}, "orderId"),
    ],
)
def test_a_malformed_order_needing_attention_is_rejected(changes: dict[str, Any], field: str) -> None:
    detail = {"orderId": ORDER_ID, "customerId": "c-1", "reason": "r", "previousStatus": "PAID", **changes}
    assert field in errors_of(OrderNeedsAttention, detail)


# -- no input values in validation errors ----------------------------------------------------------

SENTINEL = "Zq7SeNtInEl"  # what must never come back in an error
SENTINEL_NUMBER = 987654321
BAD_TEXT = SENTINEL + "\x00" + SENTINEL * 30  # a control character, and too long for any field
BAD_LINES = [{"sku": BAD_TEXT, "quantity": SENTINEL, "unitPriceCents": SENTINEL}]
VALID_SKU = "ZQ7SENTINEL-SKU"  # a valid SKU the duplicate check must not repeat back
SAME_SKU_TWICE = [{"sku": VALID_SKU, "quantity": 1, "unitPriceCents": 1}] * 2


def _bad_event(**fields: Any) -> dict[str, Any]:
    return {"version": SENTINEL, "orderId": BAD_TEXT, "customerId": BAD_TEXT, **fields}


SENTINEL_CASES: list[tuple[type[Any], dict[str, Any]]] = [
    (
        PlaceOrderRequest,
        {"lines": BAD_LINES, "currency": SENTINEL, "paymentToken": BAD_TEXT, "onBehalfOf": BAD_TEXT},
    ),
    (PlaceOrderRequest, {**BODY, "lines": [{"sku": VALID_SKU, "quantity": 1}] * 2}),
    (
        OrderPlaced,
        _bad_event(
            lines=BAD_LINES, currency=SENTINEL, totalCents=SENTINEL, paymentRef=BAD_TEXT, placedAt=BAD_TEXT
        ),
    ),
    (OrderPlaced, {**placed(), "totalCents": SENTINEL_NUMBER}),  # not the sum of the lines
    (OrderPlaced, {**placed(), "lines": SAME_SKU_TWICE, "totalCents": 2}),
    (OrderStatusChanged, _bad_event(status=SENTINEL, reason=SENTINEL * 100, changedAt=BAD_TEXT)),
    (OrderRejected, _bad_event(reason=SENTINEL * 100)),
    (
        OrderFailed,
        _bad_event(reason=SENTINEL * 100, refunded=SENTINEL, refundedCents=SENTINEL, currency=SENTINEL),
    ),
    (
        OrderFailed,
        {
            "orderId": ORDER_ID,
            "customerId": "c-1",
            "reason": "r",
            "refunded": False,
            "refundedCents": SENTINEL_NUMBER,
        },
    ),
    (
        OrderCompleted,
        _bad_event(totalCents=SENTINEL, currency=SENTINEL, invoiceKey=SENTINEL * 100),
    ),
    (OrderNeedsAttention, _bad_event(reason=SENTINEL * 100, previousStatus=SENTINEL)),
]


def test_every_order_contract_has_a_sentinel_case() -> None:
    assert {model for model, _ in SENTINEL_CASES} == {PlaceOrderRequest, *ORDER_EVENTS}


@pytest.mark.parametrize(
    ("model", "data"), SENTINEL_CASES, ids=[f"{m.__name__}-{i}" for i, (m, _) in enumerate(SENTINEL_CASES)]
)
def test_validation_errors_never_carry_the_input(model: type[Any], data: dict[str, Any]) -> None:
    # Given data whose every value carries a sentinel (or a number only the input knows)
    # When the contract refuses it
    with pytest.raises(ValidationError) as error:
        model.model_validate(data)
    # Then the errors, formatted as the app logs and answers them, hold none of it
    formatted = json.dumps(error.value.errors(include_input=False, include_url=False), default=str)
    assert SENTINEL not in formatted and SENTINEL.upper() not in formatted
    assert str(SENTINEL_NUMBER) not in formatted
    assert len(error.value.errors()) >= 1
