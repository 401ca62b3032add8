"""The accounting service with fakes: ledger entries only for what the payments table confirms."""

from __future__ import annotations

from typing import Any

import pytest

from accounting.service import (
    InvalidLedgerEvent,
    LedgerEntry,
    PaymentFacts,
    UnconfirmedPayment,
    parse_event,
    record_event,
)

ORDER_ID = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"
NOW = "2026-11-22T10:06:00.000Z"
CHARGED = {
    "version": "1.0",
    "orderId": ORDER_ID,
    "chargeId": "ch_0123456789abcdef",
    "amountCents": 3399,
    "currency": "EUR",
    "chargedAt": "2026-11-22T10:00:01.000Z",
}
REFUNDED = {**CHARGED, "refundId": "re_0123456789abcdef", "refundedAt": "2026-11-22T10:05:00.000Z"}
REFUNDED.pop("chargedAt")


def bus_event(
    detail_type: str, detail: Any, event_id: str = "evt-1", source: str = "myapp.payments"
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-11-22T10:05:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


class FakePayments:
    def __init__(self, facts: PaymentFacts | None) -> None:
        self.facts = facts

    def get(self, order_id: str) -> PaymentFacts | None:
        return self.facts if self.facts and self.facts.order_id == order_id else None


class FakeLedger:
    def __init__(self) -> None:
        self.entries: dict[str, LedgerEntry] = {}

    def record_charge(self, entry: LedgerEntry, *, at: str) -> bool:
        return self.entries.setdefault(entry.entry_id, entry) is entry

    def record_refund(self, entry: LedgerEntry, *, charge_entry_id: str, at: str) -> bool:
        if charge_entry_id not in self.entries:
            raise UnconfirmedPayment("no charge")
        return self.entries.setdefault(entry.entry_id, entry) is entry


def facts(status: str = "CHARGED", **changes: Any) -> PaymentFacts:
    values: dict[str, Any] = {
        "order_id": ORDER_ID,
        "status": status,
        "charge_id": "ch_0123456789abcdef",
        "amount_cents": 3399,
        "currency": "EUR",
        "refund_id": "re_0123456789abcdef" if status == "REFUNDED" else None,
    }
    return PaymentFacts(**{**values, **changes})


def record(event: dict[str, Any], payments: FakePayments, ledger: FakeLedger) -> dict[str, Any]:
    return record_event(parse_event(event), payments=payments, ledger=ledger, now=NOW)


def test_a_confirmed_charge_is_one_charge_entry_however_often_it_is_announced() -> None:
    ledger = FakeLedger()
    first = record(bus_event("PaymentCharged", CHARGED), FakePayments(facts()), ledger)
    second = record(bus_event("PaymentCharged", CHARGED, "evt-2"), FakePayments(facts()), ledger)
    assert first == {"recorded": True, "entryId": f"CHARGE#{ORDER_ID}"}
    assert second == {"recorded": False, "entryId": f"CHARGE#{ORDER_ID}"}
    assert [(e.kind, e.amount_cents) for e in ledger.entries.values()] == [("CHARGE", 3399)]


def test_a_confirmed_refund_is_a_negative_entry_against_its_charge_even_when_it_comes_first() -> None:
    # Given the refund's event overtook the charge's
    ledger, payments = FakeLedger(), FakePayments(facts("REFUNDED"))
    # When accounting gets the refund, then the charge
    refunded = record(bus_event("PaymentRefunded", REFUNDED), payments, ledger)
    charged = record(bus_event("PaymentCharged", CHARGED, "evt-2"), payments, ledger)
    # Then the ledger has the charge and the refund once each, and balances to zero
    assert refunded == {"recorded": True, "entryId": f"REFUND#{ORDER_ID}"} and not charged["recorded"]
    assert sorted((e.kind, e.amount_cents) for e in ledger.entries.values()) == [
        ("CHARGE", 3399),
        ("REFUND", -3399),
    ]


@pytest.mark.parametrize(
    ("event", "table"),
    [
        (bus_event("PaymentCharged", CHARGED), None),
        (bus_event("PaymentCharged", {**CHARGED, "amountCents": 1}), facts()),
        (bus_event("PaymentCharged", {**CHARGED, "chargeId": "ch_forged"}), facts()),
        (bus_event("PaymentRefunded", REFUNDED), facts("CHARGED")),
        (bus_event("PaymentRefunded", {**REFUNDED, "refundId": "re_forged"}), facts("REFUNDED")),
        (
            bus_event("PaymentRefunded", REFUNDED),
            facts("VOIDED", charge_id=None, amount_cents=0, currency=None),
        ),
    ],
    ids=["no record", "other amount", "other charge", "not refunded", "other refund", "tombstone"],
)
def test_an_event_the_payments_table_does_not_confirm_is_refused_and_writes_nothing(
    event: dict[str, Any], table: PaymentFacts | None
) -> None:
    ledger = FakeLedger()
    with pytest.raises(UnconfirmedPayment, match=ORDER_ID):
        record(event, FakePayments(table), ledger)
    assert ledger.entries == {}


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (bus_event("OrderCompleted", CHARGED, source="myapp.orders"), "not a payment event"),
        (bus_event("PaymentCharged", CHARGED, source="myapp.orders"), "not a payment event"),
        (bus_event("PaymentCharged", {**CHARGED, "amountCents": -5}), "amountCents"),
        (bus_event("PaymentCharged", {**CHARGED, "version": "2.0"}), "version"),
        ("nope", "not a payment event"),
    ],
)
def test_an_event_accounting_cannot_record_is_refused_clearly(event: Any, why: str) -> None:
    with pytest.raises(InvalidLedgerEvent, match=why) as error:
        parse_event(event)
    assert "-5" not in str(error.value)
