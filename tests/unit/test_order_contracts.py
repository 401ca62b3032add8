"""The order contracts: the POST /orders body and the five order events, good and bad inputs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts.orders import (
    OrderCompleted,
    OrderFailed,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
    PlaceOrderRequest,
)
from shared.contracts.registry import contract_for

ROOT = Path(__file__).resolve().parents[2]
ORDER_ID = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"
LINES = [
    {"sku": "BOOK-0001", "quantity": 2, "unitPriceCents": 1250},
    {"sku": "MUG-0042", "quantity": 1, "unitPriceCents": 899},
]
BODY: dict[str, Any] = {
    "customerId": "customer-0001",
    "lines": LINES,
    "currency": "EUR",
    "paymentToken": "tok_visa",
}


def body(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BODY), **changes}


def errors_of(model: type[Any], data: Any) -> set[str]:
    with pytest.raises(ValidationError) as error:
        model.model_validate(data)
    return {".".join(str(p) for p in e["loc"]) for e in error.value.errors()}


# -- PlaceOrderRequest -----------------------------------------------------------------------------


def test_a_valid_order_request_is_accepted_and_totals_its_lines() -> None:
    # Given the sample request body of POST /orders
    data = json.loads((ROOT / "events" / "api" / "place_order.json").read_text())
    # When it is parsed
    request = PlaceOrderRequest.model_validate(data)
    # Then it is accepted and its total is the sum of quantity x unit price
    assert request.total_cents == 2 * 1250 + 1 * 899
    assert [line.sku for line in request.lines] == ["BOOK-0001", "MUG-0042"]


def test_the_declined_sample_is_a_valid_request_with_the_declined_token() -> None:
    data = json.loads((ROOT / "events" / "api" / "place_order_declined.json").read_text())
    assert PlaceOrderRequest.model_validate(data).paymentToken == "tok_declined"


def test_a_customer_id_is_trimmed() -> None:
    assert PlaceOrderRequest.model_validate(body(customerId="  c-1  ")).customerId == "c-1"


def test_free_lines_total_zero() -> None:
    request = PlaceOrderRequest.model_validate(
        body(lines=[{"sku": "FREEBIE", "quantity": 3, "unitPriceCents": 0}])
    )
    assert request.total_cents == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (body(lines=[]), "lines"),
        (body(lines=[LINES[0]] * 51), "lines"),
        (body(lines=[LINES[0], {**LINES[0], "quantity": 5}]), "lines"),  # the same sku twice
        (body(lines=[{**LINES[0], "sku": "book-1"}]), "lines.0.sku"),
        (body(lines=[{**LINES[0], "sku": "-BOOK"}]), "lines.0.sku"),
        (body(lines=[{**LINES[0], "sku": "BOOK 1"}]), "lines.0.sku"),
        (body(lines=[{**LINES[0], "sku": "B" * 65}]), "lines.0.sku"),
        (body(lines=[{**LINES[0], "sku": ""}]), "lines.0.sku"),
        (body(lines=[{**LINES[0], "quantity": 0}]), "lines.0.quantity"),
        (body(lines=[{**LINES[0], "quantity": 101}]), "lines.0.quantity"),
        (body(lines=[{**LINES[0], "quantity": "two"}]), "lines.0.quantity"),
        (body(lines=[LINES[0], {**LINES[1], "unitPriceCents": -1}]), "lines.1.unitPriceCents"),
        (body(lines=[{**LINES[0], "unitPriceCents": 10_000_001}]), "lines.0.unitPriceCents"),
        (body(lines=[{"sku": "BOOK-0001", "quantity": 1}]), "lines.0.unitPriceCents"),
        (body(lines=[{**LINES[0], "discount": 5}]), "lines.0.discount"),
        (body(customerId=""), "customerId"),
        (body(customerId="   "), "customerId"),
        (body(customerId="c" * 65), "customerId"),
        (body(customerId="c-1\r\nX-Injected: yes"), "customerId"),
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


def test_a_duplicate_sku_error_says_which_sku() -> None:
    with pytest.raises(ValidationError, match="sku BOOK-0001 appears more than once"):
        PlaceOrderRequest.model_validate(body(lines=[LINES[0], LINES[0]]))


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
        "paymentToken": "tok_visa",
        "placedAt": "2026-11-22T10:00:00.000Z",
        **changes,
    }


def test_every_order_event_names_its_source_and_detail_type() -> None:
    for model in (OrderPlaced, OrderStatusChanged, OrderRejected, OrderFailed, OrderCompleted):
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
