"""Turns PaymentCharged and PaymentRefunded into ledger entries, after the payments table confirms them.

The events are triggers, not evidence: accounting reads the order's payment record (consistent read)
and writes what the record says. `CHARGE#<orderId>` is written once; `REFUND#<orderId>` only in one
transaction with a check that the CHARGE exists. An event the table does not confirm (a forgery, or
a producer bug) raises, so the invocation fails and lands in the consumer's OnFailure DLQ with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias

from pydantic import ValidationError

from shared.contracts.envelope import EventBridgeEvent
from shared.contracts.payments import SOURCE, PaymentCharged, PaymentRefunded
from shared.validation import describe

ChargedEvent: TypeAlias = EventBridgeEvent[PaymentCharged]
RefundedEvent: TypeAlias = EventBridgeEvent[PaymentRefunded]
EVENT_MODELS: dict[str, type[ChargedEvent] | type[RefundedEvent]] = {
    PaymentCharged.DETAIL_TYPE: ChargedEvent,
    PaymentRefunded.DETAIL_TYPE: RefundedEvent,
}


class InvalidLedgerEvent(ValueError):
    """The event is not one accounting records, or breaks its contract; the message says which and how."""


class UnconfirmedPayment(ValueError):
    """The payments table does not confirm the event (forged, or not recorded): nothing is written."""


@dataclass(frozen=True)
class PaymentFacts:
    """The order's payment record, as the payments table holds it."""

    order_id: str
    status: str
    charge_id: str | None
    amount_cents: int
    currency: str | None
    refund_id: str | None


@dataclass(frozen=True)
class LedgerEntry:
    """One line of the ledger: a charge (+) or a refund (-) of one order, recorded once."""

    entry_id: str  # "CHARGE#<orderId>" | "REFUND#<orderId>": a second delivery finds it taken
    order_id: str
    kind: Literal["CHARGE", "REFUND"]
    amount_cents: int
    currency: str
    reference: str  # the provider's charge or refund id
    event_id: str


class Payments(Protocol):
    def get(self, order_id: str) -> PaymentFacts | None: ...


class Ledger(Protocol):
    def record_charge(self, entry: LedgerEntry, *, at: str) -> bool:
        """Writes the CHARGE unless it exists; False when it did."""
        ...

    def record_refund(self, entry: LedgerEntry, *, charge_entry_id: str, at: str) -> bool:
        """Writes the REFUND with a check that the CHARGE exists, in one transaction; False when the
        REFUND exists already; UnconfirmedPayment when there is no CHARGE."""
        ...


def parse_event(event: Any) -> ChargedEvent | RefundedEvent:
    detail_type = event.get("detail-type") if isinstance(event, dict) else None
    model = EVENT_MODELS.get(str(detail_type))
    if model is None or event.get("source") != SOURCE:
        # The sender's source and detail-type are not repeated: only what accounting expects.
        expected = "/".join(EVENT_MODELS)
        raise InvalidLedgerEvent(
            f"event {_event_id(event)} is not a payment event accounting records ({SOURCE} {expected})"
        )
    try:
        return model.model_validate(event)
    except ValidationError as error:
        # Not chained: pydantic's own message, in a logged traceback, would repeat the input.
        raise InvalidLedgerEvent(
            f"{detail_type} event {_event_id(event)} is invalid: {describe(error)}"
        ) from None


def charge_entry(facts: PaymentFacts, event_id: str) -> LedgerEntry:
    assert facts.charge_id is not None and facts.currency is not None
    return LedgerEntry(
        entry_id=f"CHARGE#{facts.order_id}",
        order_id=facts.order_id,
        kind="CHARGE",
        amount_cents=facts.amount_cents,
        currency=facts.currency,
        reference=facts.charge_id,
        event_id=event_id,
    )


def confirmed(event: ChargedEvent | RefundedEvent, payments: Payments) -> PaymentFacts:
    """The payment record that backs the event, or UnconfirmedPayment saying what does not match."""
    detail = event.detail
    facts = payments.get(detail.orderId)
    what = f"{event.detail_type} {event.id} for order {detail.orderId}"
    if facts is None or facts.charge_id is None:
        raise UnconfirmedPayment(f"{what}: the payments table has no charge for the order")
    if (facts.charge_id, facts.amount_cents, facts.currency) != (
        detail.chargeId,
        detail.amountCents,
        detail.currency,
    ):
        raise UnconfirmedPayment(f"{what}: charge id, amount or currency differ from the payments table")
    if isinstance(detail, PaymentRefunded) and (facts.status, facts.refund_id) != (
        "REFUNDED",
        detail.refundId,
    ):
        raise UnconfirmedPayment(f"{what}: the payments table has no such refund")
    return facts


def record_event(
    event: ChargedEvent | RefundedEvent, *, payments: Payments, ledger: Ledger, now: str
) -> dict[str, Any]:
    """{"recorded": true, "entryId"} for a new entry; {"recorded": false, ...} for a repeat."""
    facts = confirmed(event, payments)
    charge = charge_entry(facts, event.id)
    if isinstance(event.detail, PaymentCharged):
        return {"recorded": ledger.record_charge(charge, at=now), "entryId": charge.entry_id}
    # The table confirms the charge too: a refund that overtook its PaymentCharged records both.
    ledger.record_charge(charge, at=now)
    assert facts.refund_id is not None
    refund = LedgerEntry(
        entry_id=f"REFUND#{facts.order_id}",
        order_id=facts.order_id,
        kind="REFUND",
        amount_cents=-facts.amount_cents,
        currency=charge.currency,
        reference=facts.refund_id,
        event_id=event.id,
    )
    recorded = ledger.record_refund(refund, charge_entry_id=charge.entry_id, at=now)
    return {"recorded": recorded, "entryId": refund.entry_id}


def _event_id(event: Any) -> str:
    return str(event.get("id")) if isinstance(event, dict) else "<not an object>"
