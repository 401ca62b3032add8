"""The accounting handler against moto: one entry per confirmed charge and refund; forgeries refused."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.handlers.conftest import load_handler
from tests.handlers.logs import correlation_ids, log_lines
from tests.handlers.orders_conftest_helpers import ORDER_ID, context, create_table, order_event, scan

TABLE = "ledger"
PAYMENTS = "payments"
CHARGED = {
    "version": "1.0",
    "orderId": ORDER_ID,
    "chargeId": "ch_0123456789abcdef",
    "amountCents": 3399,
    "currency": "EUR",
    "chargedAt": "2026-11-22T10:00:01.000Z",
}
REFUNDED = {
    "version": "1.0",
    "orderId": ORDER_ID,
    "chargeId": "ch_0123456789abcdef",
    "refundId": "re_0123456789abcdef",
    "amountCents": 3399,
    "currency": "EUR",
    "refundedAt": "2026-11-22T10:05:00.000Z",
}


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the ledger and payments tables
    create_table(TABLE, "entryId")
    create_table(PAYMENTS, "orderId")
    monkeypatch.setenv("LEDGER_TABLE_NAME", TABLE)
    monkeypatch.setenv("PAYMENTS_TABLE_NAME", PAYMENTS)
    return load_handler("accounting.handler")


def payment_record(status: str) -> None:
    item = {
        "orderId": {"S": ORDER_ID},
        "status": {"S": status},
        "chargeId": {"S": "ch_0123456789abcdef"},
        "amountCents": {"N": "3399"},
        "currency": {"S": "EUR"},
    }
    if status == "REFUNDED":
        item["refundId"] = {"S": "re_0123456789abcdef"}
    boto3.client("dynamodb").put_item(TableName=PAYMENTS, Item=item)


def invoke(handler: ModuleType, detail_type: str, detail: dict[str, Any], event_id: str = "evt-1") -> Any:
    event = order_event(detail_type, detail, event_id=event_id, source="myapp.payments")
    return handler.lambda_handler(event, context("accounting"))


def entries() -> list[tuple[str, str, int]]:
    return sorted((e["entryId"], e["kind"], int(e["amountCents"])) for e in scan(TABLE))


def test_a_confirmed_charge_is_one_charge_entry_even_when_delivered_twice(handler: ModuleType) -> None:
    # Given the payments table records the charge
    payment_record("CHARGED")
    # When PaymentCharged arrives twice
    first = invoke(handler, "PaymentCharged", CHARGED, "evt-1")
    second = invoke(handler, "PaymentCharged", CHARGED, "evt-2")
    # Then the ledger holds one CHARGE of the recorded amount
    assert (first["recorded"], second["recorded"]) == (True, False)
    assert entries() == [(f"CHARGE#{ORDER_ID}", "CHARGE", 3399)]


def test_a_confirmed_refund_is_recorded_against_its_charge_and_balances(handler: ModuleType) -> None:
    payment_record("REFUNDED")
    invoke(handler, "PaymentCharged", CHARGED)
    invoke(handler, "PaymentRefunded", REFUNDED, "evt-2")
    invoke(handler, "PaymentRefunded", REFUNDED, "evt-3")
    assert entries() == [(f"CHARGE#{ORDER_ID}", "CHARGE", 3399), (f"REFUND#{ORDER_ID}", "REFUND", -3399)]


@pytest.mark.parametrize(
    ("record", "detail_type", "detail"),
    [
        (None, "PaymentCharged", CHARGED),
        ("CHARGED", "PaymentCharged", {**CHARGED, "amountCents": 1}),
        ("CHARGED", "PaymentRefunded", REFUNDED),
        (None, "PaymentRefunded", REFUNDED),
    ],
    ids=["charge not in the table", "other amount", "refund not in the table", "refund without charge"],
)
def test_a_forged_payment_event_is_refused_and_writes_nothing(
    handler: ModuleType, record: str | None, detail_type: str, detail: dict[str, Any]
) -> None:
    if record:
        payment_record(record)
    # Raised: Lambda retries, then parks the event in the consumer's OnFailure DLQ with the reason
    with pytest.raises(handler.UnconfirmedPayment, match="payments table"):
        invoke(handler, detail_type, detail)
    assert scan(TABLE) == []


def test_an_order_event_is_not_a_ledger_event(handler: ModuleType) -> None:
    event = order_event("OrderCompleted", {"orderId": ORDER_ID})
    with pytest.raises(handler.InvalidLedgerEvent, match="not a payment event"):
        handler.lambda_handler(event, context("accounting"))


def test_every_log_line_carries_the_order_id_as_correlation_id(handler: ModuleType) -> None:
    # Given the payments table records the charge
    payment_record("CHARGED")
    # When PaymentCharged about the order arrives
    with log_lines(handler.logger) as lines:
        invoke(handler, "PaymentCharged", CHARGED, "evt-9")
    # Then its lines name the order (the flow's id), not the event
    assert lines and set(correlation_ids(lines)) == {ORDER_ID}
