"""The accounting handler against moto: a ledger entry per sale and per refund, once, and bad events."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.handlers.conftest import load_handler
from tests.handlers.orders_conftest_helpers import ORDER_ID, context, create_table, order_event, scan

TABLE = "ledger"
COMPLETED = {
    "version": "1.0",
    "orderId": ORDER_ID,
    "customerId": "customer-0001",
    "totalCents": 3399,
    "currency": "EUR",
    "invoiceKey": f"invoices/{ORDER_ID}.json",
}
FAILED = {
    "version": "1.0",
    "orderId": ORDER_ID,
    "customerId": "customer-0001",
    "reason": "States.Timeout",
    "refunded": True,
    "refundedCents": 3399,
}


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the ledger table
    create_table(TABLE, "entryId")
    monkeypatch.setenv("LEDGER_TABLE_NAME", TABLE)
    return load_handler("accounting.handler")


def invoke(handler: ModuleType, event: dict[str, Any]) -> Any:
    return handler.lambda_handler(event, context("accounting"))


def test_a_completed_order_is_one_sale_in_the_ledger(handler: ModuleType) -> None:
    # When OrderCompleted arrives
    result = invoke(handler, order_event("OrderCompleted", COMPLETED, event_id="evt-sale"))
    # Then the ledger holds one sale of the order's total, traced to the event
    assert result == {"recorded": True, "entryId": f"{ORDER_ID}#SALE"}
    [entry] = scan(TABLE)
    assert (entry["entryId"], entry["kind"], int(entry["amountCents"]), entry["currency"]) == (
        f"{ORDER_ID}#SALE",
        "SALE",
        3399,
        "EUR",
    )
    assert (entry["orderId"], entry["eventId"], entry["invoiceKey"]) == (
        ORDER_ID,
        "evt-sale",
        f"invoices/{ORDER_ID}.json",
    )
    assert entry["recordedAt"].endswith("Z")


def test_a_refunded_failure_is_one_negative_refund_entry(handler: ModuleType) -> None:
    result = invoke(handler, order_event("OrderFailed", FAILED, event_id="evt-refund"))
    assert result == {"recorded": True, "entryId": f"{ORDER_ID}#REFUND"}
    [entry] = scan(TABLE)
    assert (entry["kind"], int(entry["amountCents"]), entry["eventId"]) == ("REFUND", -3399, "evt-refund")
    assert "currency" not in entry  # OrderFailed carries no currency unless the workflow adds it


def test_the_same_order_event_delivered_twice_is_recorded_once(handler: ModuleType) -> None:
    # Given a sale already recorded
    invoke(handler, order_event("OrderCompleted", COMPLETED, event_id="evt-1"))
    # When the event is delivered again (a retry, or a replay from the archive under a new id)
    again = invoke(handler, order_event("OrderCompleted", COMPLETED, event_id="evt-1"))
    replay = invoke(handler, order_event("OrderCompleted", COMPLETED, event_id="evt-replayed"))
    # Then nothing more is written
    assert again["recorded"] is False and replay["recorded"] is False
    assert [entry["eventId"] for entry in scan(TABLE)] == ["evt-1"]


def test_a_failure_without_a_refund_writes_nothing(handler: ModuleType) -> None:
    result = invoke(handler, order_event("OrderFailed", {**FAILED, "refunded": False, "refundedCents": 0}))
    assert result["recorded"] is False
    assert scan(TABLE) == []


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (order_event("OrderPlaced", COMPLETED, event_id="bad-1"), "bad-1"),
        (order_event("OrderCompleted", COMPLETED, event_id="bad-2", source="myapp.other"), "bad-2"),
        (order_event("OrderCompleted", {**COMPLETED, "currency": "JPY"}, event_id="bad-3"), "currency"),
        (order_event("OrderFailed", {**FAILED, "refundedCents": -1}, event_id="bad-4"), "refundedCents"),
        (order_event("OrderCompleted", "not an object", event_id="bad-5"), "bad-5"),
    ],
)
def test_an_invalid_event_fails_clearly_and_writes_nothing(
    handler: ModuleType, event: dict[str, Any], why: str
) -> None:
    with pytest.raises(handler.InvalidLedgerEvent, match=why):
        invoke(handler, event)
    assert scan(TABLE) == []
