"""Turns OrderCompleted and refunded OrderFailed events into ledger entries; only the Ledger port here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias

from pydantic import ValidationError

from shared.contracts.envelope import EventBridgeEvent
from shared.contracts.orders import SOURCE, OrderCompleted, OrderFailed

CompletedEvent: TypeAlias = EventBridgeEvent[OrderCompleted]
FailedEvent: TypeAlias = EventBridgeEvent[OrderFailed]
EVENT_MODELS: dict[str, type[CompletedEvent] | type[FailedEvent]] = {
    OrderCompleted.DETAIL_TYPE: CompletedEvent,
    OrderFailed.DETAIL_TYPE: FailedEvent,
}


class InvalidLedgerEvent(ValueError):
    """The event is not one accounting records, or breaks its contract; the message says which and how."""


@dataclass(frozen=True)
class LedgerEntry:
    """One line of the ledger: a sale (+) or a refund (-) of one order, recorded once."""

    entry_id: str  # "<orderId>#SALE" | "<orderId>#REFUND": a second delivery finds it taken
    order_id: str
    customer_id: str
    kind: Literal["SALE", "REFUND"]
    amount_cents: int
    currency: str | None
    event_id: str
    event_time: str
    invoice_key: str | None = None


class Ledger(Protocol):
    def record(self, entry: LedgerEntry, *, at: str) -> bool:
        """Writes the entry unless one with its id exists; False when it did."""
        ...


def parse_event(event: Any) -> CompletedEvent | FailedEvent:
    detail_type = event.get("detail-type") if isinstance(event, dict) else None
    model = EVENT_MODELS.get(str(detail_type))
    if model is None or event.get("source") != SOURCE:
        raise InvalidLedgerEvent(
            f"event {_event_id(event)} is not an order event accounting records: "
            f"source={event.get('source') if isinstance(event, dict) else None!r} detail-type={detail_type!r}"
        )
    try:
        return model.model_validate(event)
    except ValidationError as error:
        raise InvalidLedgerEvent(f"{detail_type} event {_event_id(event)} is invalid: {error}") from error


def entry_for(event: CompletedEvent | FailedEvent) -> LedgerEntry | None:
    """The ledger entry an event makes, or None (an OrderFailed that refunded nothing moves no money)."""
    detail = event.detail
    common = {
        "order_id": detail.orderId,
        "customer_id": detail.customerId,
        "event_id": event.id,
        "event_time": event.time.isoformat(),
    }
    if isinstance(detail, OrderCompleted):
        return LedgerEntry(
            entry_id=f"{detail.orderId}#SALE",
            kind="SALE",
            amount_cents=detail.totalCents,
            currency=detail.currency,
            invoice_key=detail.invoiceKey,
            **common,
        )
    if not detail.refunded or detail.refundedCents == 0:
        return None
    return LedgerEntry(
        entry_id=f"{detail.orderId}#REFUND",
        kind="REFUND",
        amount_cents=-detail.refundedCents,
        currency=detail.currency,
        **common,
    )


def record_event(event: CompletedEvent | FailedEvent, *, ledger: Ledger, now: str) -> dict[str, Any]:
    """{"recorded": true, "entryId"} for a new entry; {"recorded": false, ...} for a repeat or no money."""
    entry = entry_for(event)
    if entry is None:
        return {"recorded": False, "entryId": None}
    return {"recorded": ledger.record(entry, at=now), "entryId": entry.entry_id}


def _event_id(event: Any) -> str:
    return str(event.get("id")) if isinstance(event, dict) else "<not an object>"
