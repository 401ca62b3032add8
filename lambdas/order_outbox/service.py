"""Which order events a change of the orders table stands for: a pure function of its two images.

No AWS here. The orders table is the source of truth and its stream the outbox: whatever wrote the
row (intake, later the workflows), the events follow from the row, validated by their contracts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from shared.contracts.orders import OrderEvent, OrderPlaced


class MalformedOrder(ValueError):
    """The image does not make a valid event; the message names the fields, never their values."""


def events_for(old_image: Mapping[str, Any] | None, new_image: Mapping[str, Any] | None) -> list[OrderEvent]:
    """The events of one change, from its old and new images (plain values, as `from_item` gives).

    - INSERT of a PENDING order -> OrderPlaced.
    - Anything else -> nothing (yet: status transitions on MODIFY come with the workflow's writes).
    The event source mapping filters on the same conditions; this does not rely on it.
    """
    if old_image is None and new_image is not None and new_image.get("status") == "PENDING":
        return [order_placed(new_image)]
    return []


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


def _validated(model: type[OrderPlaced], detail: dict[str, Any]) -> OrderPlaced:
    try:
        return model.model_validate(detail)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'detail'}: {e['msg']}"
            for e in error.errors(include_input=False, include_url=False)
        )
        raise MalformedOrder(f"not a valid {model.DETAIL_TYPE}: {problems}") from None
