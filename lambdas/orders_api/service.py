"""Places and reads orders; no AWS here, only the OrderRepository and EventPublisher ports."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from shared.clock import utc_now
from shared.contracts.orders import UUID_PATTERN, OrderPlaced, PlaceOrderRequest
from shared.eventbus import EventPublisher, PublishFailed

_ORDER_ID = re.compile(UUID_PATTERN)
PUBLISH_FAILED_REASON = "could not publish OrderPlaced"
# What GET /orders/{id} shows: everything but the payment token.
PUBLIC_FIELDS = (
    "orderId",
    "customerId",
    "status",
    "lines",
    "currency",
    "totalCents",
    "reason",
    "invoiceKey",
    "createdAt",
    "updatedAt",
)


@dataclass(frozen=True)
class NewOrder:
    """An order as first stored: PENDING until the workflow moves it on."""

    order_id: str
    request: PlaceOrderRequest
    created_at: str

    @property
    def total_cents(self) -> int:
        return self.request.total_cents


class OrderRepository(Protocol):
    """Where orders live."""

    def create(self, order: NewOrder) -> None:
        """Stores a new PENDING order; never overwrites an existing one."""
        ...

    def mark_failed(self, order_id: str, *, reason: str, at: str) -> None:
        """Sets the order's status to FAILED with a reason."""
        ...

    def get(self, order_id: str) -> dict[str, Any] | None:
        """The order's public fields (PUBLIC_FIELDS), or None when there is no such order."""
        ...


class OrderNotPublished(RuntimeError):
    """The order was stored but OrderPlaced could not be published: it is FAILED, nothing will process it."""

    def __init__(self, order_id: str, cause: str) -> None:
        super().__init__(f"order {order_id}: {PUBLISH_FAILED_REASON}: {cause}")
        self.order_id = order_id


def new_order_id() -> str:
    return str(uuid.uuid4())


def place_order(
    request: PlaceOrderRequest,
    *,
    orders: OrderRepository,
    publisher: EventPublisher,
    new_id: Callable[[], str] = new_order_id,
    now: Callable[[], str] = utc_now,
) -> dict[str, str]:
    """Stores the order as PENDING and publishes OrderPlaced; returns {"orderId", "status"}.

    Raises OrderNotPublished (after marking the order FAILED) when the event cannot be published:
    an order nobody will process must not be acknowledged.
    """
    order = NewOrder(order_id=new_id(), request=request, created_at=now())
    orders.create(order)
    event = OrderPlaced(
        orderId=order.order_id,
        customerId=request.customerId,
        lines=request.lines,
        currency=request.currency,
        totalCents=order.total_cents,
        paymentToken=request.paymentToken,
        placedAt=order.created_at,
    )
    try:
        publisher.publish(event)
    except PublishFailed as error:
        orders.mark_failed(order.order_id, reason=PUBLISH_FAILED_REASON, at=now())
        raise OrderNotPublished(order.order_id, str(error)) from error
    return {"orderId": order.order_id, "status": "PENDING"}


def is_order_id(value: str) -> bool:
    """Whether a path value can be an order id at all (no lookup for anything else)."""
    return _ORDER_ID.fullmatch(value) is not None


def get_order(order_id: str, *, orders: OrderRepository) -> dict[str, Any] | None:
    """The order's public view, or None when it does not exist."""
    if not is_order_id(order_id):
        return None
    found = orders.get(order_id)
    if found is None:
        return None
    return {field: found.get(field) for field in PUBLIC_FIELDS}
