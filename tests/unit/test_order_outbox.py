"""The outbox's pure part: which order events a change of the orders table stands for."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from order_outbox.service import MalformedOrder, events_for
from shared.contracts.orders import OrderPlaced

ORDER_ID = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"
ROW: dict[str, Any] = {
    "orderId": ORDER_ID,
    "customerId": "us-east-1:7d3c1b2a-5e4f-4a6b-8c9d-0e1f2a3b4c5d",
    "placedBy": "us-east-1:7d3c1b2a-5e4f-4a6b-8c9d-0e1f2a3b4c5d",
    "status": "PENDING",
    "lines": [
        {"sku": "BOOK-0001", "quantity": 2, "unitPriceCents": 1250},
        {"sku": "MUG-0042", "quantity": 1, "unitPriceCents": 899},
    ],
    "currency": "EUR",
    "totalCents": 3399,
    "paymentRef": "pay_" + "ab" * 16,
    "requestDigest": "0" * 64,
    "createdAt": "2026-11-22T10:00:00.000Z",
    "updatedAt": "2026-11-22T10:00:00.000Z",
}


def row(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(ROW), **changes}


def test_a_new_pending_order_is_order_placed_built_from_the_row() -> None:
    # When a PENDING order is inserted
    [event] = events_for(None, row())
    # Then it is OrderPlaced with the row's server-priced lines, total and payment reference
    assert isinstance(event, OrderPlaced)
    assert event.model_dump(mode="json") == {
        "version": "1.0",
        "orderId": ORDER_ID,
        "customerId": ROW["customerId"],
        "lines": ROW["lines"],
        "currency": "EUR",
        "totalCents": 3399,
        "paymentRef": ROW["paymentRef"],
        "placedAt": ROW["createdAt"],
    }


def test_order_placed_carries_nothing_of_the_row_but_its_contract() -> None:
    # Given a row that (wrongly) holds a token and holds who placed it and the request's digest
    [event] = events_for(None, row(paymentToken="tok_visa"))
    detail = event.model_dump_json()
    # Then none of it reaches the event
    assert "tok_visa" not in detail and "placedBy" not in detail and "requestDigest" not in detail


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (row(status="PAID"), row(status="PAID", updatedAt="2026-11-22T10:00:01.000Z")),  # a rerun
        (row(), row(updatedAt="2026-11-22T10:00:01.000Z")),
        (row(), None),  # a REMOVE
        (None, row(status="COMPLETED")),  # an insert that is not a new order
        (None, None),
    ],
    ids=["same-status", "other-modify", "remove", "insert-not-pending", "nothing"],
)
def test_other_changes_publish_nothing(old: Any, new: Any) -> None:
    assert events_for(old, new) == []


AT = "2026-11-22T10:00:05.000Z"


def details(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(e.DETAIL_TYPE, e.model_dump(mode="json", exclude_none=True)) for e in events_for(old, new)]


def test_a_status_transition_is_order_status_changed() -> None:
    assert details(row(), row(status="PROCESSING", updatedAt=AT, executionArn="arn:x")) == [
        (
            "OrderStatusChanged",
            {
                "version": "1.0",
                "orderId": ORDER_ID,
                "customerId": ROW["customerId"],
                "status": "PROCESSING",
                "changedAt": AT,
            },
        )
    ]


def test_each_outcome_adds_its_own_event_built_from_the_row() -> None:
    who = {"version": "1.0", "orderId": ORDER_ID, "customerId": ROW["customerId"]}
    rejected = details(row(status="PROCESSING"), row(status="REJECTED", reason="out of stock", updatedAt=AT))
    failed = details(
        row(status="PAID"),
        row(status="FAILED", reason="States.Timeout", refunded=True, refundedCents=3399, updatedAt=AT),
    )
    completed = details(
        row(status="PAID"), row(status="COMPLETED", invoiceKey="invoices/x.json", updatedAt=AT)
    )
    attention = details(row(status="RESERVED"), row(status="NEEDS_ATTENTION", reason="stuck", updatedAt=AT))
    assert rejected[0][1]["reason"] == "out of stock"
    assert rejected[1] == ("OrderRejected", {**who, "reason": "out of stock"})
    assert failed[1] == (
        "OrderFailed",
        {**who, "reason": "States.Timeout", "refunded": True, "refundedCents": 3399, "currency": "EUR"},
    )
    assert completed[1] == (
        "OrderCompleted",
        {**who, "totalCents": 3399, "currency": "EUR", "invoiceKey": "invoices/x.json"},
    )
    assert attention[1] == ("OrderNeedsAttention", {**who, "reason": "stuck", "previousStatus": "RESERVED"})


def test_a_failure_that_refunded_nothing_says_so() -> None:
    [_, (kind, detail)] = details(row(status="PROCESSING"), row(status="FAILED", reason="x", updatedAt=AT))
    assert (kind, detail["refunded"], detail["refundedCents"]) == ("OrderFailed", False, 0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"totalCents": 1}, "detail"),
        ({"paymentRef": "tok_visa"}, "paymentRef"),
        ({"lines": [{"sku": "BOOK-0001", "quantity": 2}]}, "lines.0.unitPriceCents"),
        ({"customerId": None}, "customerId"),
        ({"createdAt": "noon"}, "placedAt"),
    ],
)
def test_a_row_that_makes_no_valid_order_placed_is_malformed_naming_fields_not_values(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(MalformedOrder) as error:
        events_for(None, row(**changes))
    assert f"{field}:" in str(error.value)
    assert "tok_visa" not in str(error.value) and "noon" not in str(error.value)


def test_the_event_serializes_as_flat_json_a_consumer_parses_back() -> None:
    [event] = events_for(None, row())
    assert OrderPlaced.model_validate(json.loads(event.model_dump_json())) == event
