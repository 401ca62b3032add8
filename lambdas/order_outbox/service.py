"""Which order events a change of the orders table stands for: a pure function of its two images.

No AWS here. The orders table is the source of truth and its stream the outbox: whatever wrote the
row (intake, later the workflows), the events follow from the row, validated by their contracts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from shared.contracts.orders import (
    OrderCompleted,
    OrderEvent,
    OrderFailed,
    OrderNeedsAttention,
    OrderPlaced,
    OrderRejected,
    OrderStatusChanged,
)
from shared.validation import describe

EventT = TypeVar("EventT", bound=OrderEvent)

# The statuses whose change carries a reason (REJECTED, FAILED, NEEDS_ATTENTION).
_WITH_REASON = frozenset({"REJECTED", "FAILED", "NEEDS_ATTENTION"})


class MalformedOrder(ValueError):
    """The image does not make a valid event; the message names the fields, never their values."""


def events_for(old_image: Mapping[str, Any] | None, new_image: Mapping[str, Any] | None) -> list[OrderEvent]:
    """The events of one change, from its old and new images (plain values, as `from_item` gives).

    - INSERT of a PENDING order -> OrderPlaced.
    - MODIFY whose `status` changed -> OrderStatusChanged, plus by the new status OrderRejected,
      OrderFailed, OrderCompleted or OrderNeedsAttention. Every status write is conditional on the
      status before it, so each transition is one MODIFY; a rerun that rewrites the same status
      changes no status and publishes nothing.
    - Anything else -> nothing.
    The event source mapping filters on the record kinds; this does not rely on it.
    """
    if old_image is None and new_image is not None and new_image.get("status") == "PENDING":
        return [order_placed(new_image)]
    if old_image is not None and new_image is not None and old_image.get("status") != new_image.get("status"):
        return status_events(old_image, new_image)
    return []


def status_events(old_image: Mapping[str, Any], new_image: Mapping[str, Any]) -> list[OrderEvent]:
    """The events of one status transition, built from the row after it."""
    status = new_image.get("status")
    common = {"orderId": new_image.get("orderId"), "customerId": new_image.get("customerId")}
    reason = new_image.get("reason") if status in _WITH_REASON else None
    changed: dict[str, Any] = {**common, "status": status, "changedAt": new_image.get("updatedAt")}
    if reason is not None:
        changed["reason"] = reason
    found: list[OrderEvent] = [_validated(OrderStatusChanged, changed)]
    if status == "REJECTED":
        found.append(_validated(OrderRejected, {**common, "reason": reason}))
    elif status == "FAILED":
        detail = {
            **common,
            "reason": reason,
            "refunded": bool(new_image.get("refunded", False)),
            "refundedCents": new_image.get("refundedCents", 0),
            "currency": new_image.get("currency"),
        }
        found.append(_validated(OrderFailed, detail))
    elif status == "COMPLETED":
        detail = {
            **common,
            "totalCents": new_image.get("totalCents"),
            "currency": new_image.get("currency"),
            "invoiceKey": new_image.get("invoiceKey"),
        }
        found.append(_validated(OrderCompleted, detail))
    elif status == "NEEDS_ATTENTION":
        detail = {**common, "reason": reason, "previousStatus": old_image.get("status")}
        found.append(_validated(OrderNeedsAttention, detail))
    return found


def order_placed(image: Mapping[str, Any]) -> OrderPlaced:
    """OrderPlaced from a new order's row: its server-priced lines and paymentRef, never a token."""
    return _validated(
        OrderPlaced,
        {
            "orderId": image.get("orderId"),
            "customerId": image.get("customerId"),
            "lines": image.get("lines"),
            "currency": image.get("currency"),
            "totalCents": image.get("totalCents"),
            "paymentRef": image.get("paymentRef"),
            "placedAt": image.get("createdAt"),
        },
    )


def _validated(model: type[EventT], detail: dict[str, Any]) -> EventT:
    try:
        return model.model_validate(detail)
    except ValidationError as error:
        raise MalformedOrder(f"not a valid {model.DETAIL_TYPE}: {describe(error, root='detail')}") from None
