"""Places and reads orders: who the customer is, what the catalogue charges, one atomic store.

No AWS here, only the OrderStore and Catalogue ports. Storing the order is all intake does: the
orders table's stream publishes OrderPlaced (the outbox, `order_outbox`), so there is no "stored but
not published" state to repair, and the API answers 202 once the store succeeded.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.contracts.orders import (
    MAX_UNIT_PRICE_CENTS,
    UUID_PATTERN,
    OrderLine,
    PlaceOrderRequest,
    total_of,
)

_ORDER_ID = re.compile(UUID_PATTERN)
# An order id made from (caller, Idempotency-Key) is a UUID in this namespace (uuid5): a retry that
# finds its order already stored gets that order back, even when the idempotency record was lost.
ORDER_ID_NAMESPACE = uuid.UUID("6c0f7a55-0b3e-4d1e-9f57-2a4f3e8c9d10")
# What GET /orders/{id} shows: never the payment reference, nor who placed it on whose behalf.
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
# An assumed-role session ARN; the session name is dropped, so every session of a role is one caller.
_ROLE_SESSION = re.compile(r"^(arn:[a-z-]+:sts::\d{12}:assumed-role/[^/]+)/[^/]+$")


@dataclass(frozen=True)
class Caller:
    """Who calls the API, as API Gateway's IAM authorization says.

    `id` is the identity the caller's orders and Idempotency-Keys belong to: the Cognito identity of
    a person (the IAM role behind a Cognito identity pool is shared by all of its users, so its ARN
    cannot tell them apart), else the IAM principal's ARN (a role session's ARN without its session).
    """

    id: str
    is_person: bool  # a Cognito identity: a customer acting for themselves, never for someone else


@dataclass(frozen=True)
class FieldError:
    """One reason a request is refused: the field (e.g. `lines.0.sku`) and what is wrong, no value."""

    field: str
    error: str


class InvalidOrder(ValueError):
    """The catalogue refuses the request (unknown SKU, no price, another currency): a 400."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__(f"{len(errors)} field(s) refused by the catalogue")
        self.errors = list(errors)


class Forbidden(PermissionError):
    """The caller may not do this (a 403); the message says what, never with input values."""


class IdempotencyConflict(RuntimeError):
    """The Idempotency-Key's order exists with another request, or for another caller (a 422)."""


class OrderExists(RuntimeError):
    """The store refused the order: an order with its id is already stored."""


@dataclass(frozen=True)
class CatalogueItem:
    """What the inventory table says about a SKU: its price and currency, if it has them."""

    sku: str
    price_cents: Any  # as stored: checked here, the table is not trusted to hold a valid price
    currency: Any


@dataclass(frozen=True)
class NewOrder:
    """An order as first stored (PENDING), with the payment token kept apart under `payment_ref`."""

    order_id: str
    customer_id: str
    placed_by: str
    lines: list[OrderLine]
    currency: str
    payment_ref: str
    payment_token: str
    token_expires_at: int  # epoch seconds: the PaymentTokens table's TTL
    request_digest: str
    created_at: str

    @property
    def total_cents(self) -> int:
        return total_of(self.lines)

    def item(self) -> dict[str, Any]:
        """The orders table item (no token in it)."""
        return {
            "orderId": self.order_id,
            "customerId": self.customer_id,
            "placedBy": self.placed_by,
            "status": "PENDING",
            "lines": [line.model_dump() for line in self.lines],
            "currency": self.currency,
            "totalCents": self.total_cents,
            "paymentRef": self.payment_ref,
            "requestDigest": self.request_digest,
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
        }

    def token_item(self) -> dict[str, Any]:
        """The PaymentTokens table item: the only place the token is kept."""
        return {
            "paymentRef": self.payment_ref,
            "orderId": self.order_id,
            "token": self.payment_token,
            "expiresAt": self.token_expires_at,
        }


class OrderStore(Protocol):
    """The orders and payment tokens tables."""

    def create(self, order: NewOrder) -> None:
        """Stores the order and its token in one transaction; raises OrderExists if the id is taken."""
        ...

    def get(self, order_id: str) -> dict[str, Any] | None:
        """The whole order item (consistent read), or None."""
        ...


class Catalogue(Protocol):
    """The inventory table, read for prices."""

    def items(self, skus: Sequence[str]) -> Mapping[str, CatalogueItem]:
        """The catalogue items of those SKUs that exist (consistent read)."""
        ...


def caller_from(identity: Mapping[str, Any] | None) -> Caller | None:
    """The caller from API Gateway's `requestContext.identity`, or None when it names nobody."""
    identity = identity or {}
    cognito_id = identity.get("cognitoIdentityId")
    if isinstance(cognito_id, str) and cognito_id:
        return Caller(id=cognito_id, is_person=True)
    user_arn = identity.get("userArn")
    if isinstance(user_arn, str) and user_arn:
        match = _ROLE_SESSION.fullmatch(user_arn)
        return Caller(id=match.group(1) if match else user_arn, is_person=False)
    return None


def customer_for(caller: Caller, on_behalf_of: str | None) -> str:
    """The order's customer: the caller, or the customer a service principal explicitly acts for."""
    if on_behalf_of is None:
        return caller.id
    if caller.is_person:
        raise Forbidden("onBehalfOf is for service principals; a customer orders for themselves")
    return on_behalf_of


def order_id_for(caller: Caller, idempotency_key: str) -> str:
    """The order id of (caller, Idempotency-Key): the same for every retry of that request."""
    return str(uuid.uuid5(ORDER_ID_NAMESPACE, json.dumps([caller.id, idempotency_key])))


def new_order_id() -> str:
    return str(uuid.uuid4())


def new_payment_ref() -> str:
    return "pay_" + secrets.token_hex(16)


def request_digest(request: PlaceOrderRequest) -> str:
    """What a retry must repeat to be the same request (the token aside: only its table holds it)."""
    material = request.model_dump(mode="json", exclude={"paymentToken"})
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def price_lines(request: PlaceOrderRequest, catalogue: Catalogue) -> list[OrderLine]:
    """The request's lines at the catalogue's prices; InvalidOrder names each line it refuses."""
    found = catalogue.items([line.sku for line in request.lines])
    priced: list[OrderLine] = []
    errors: list[FieldError] = []
    for index, line in enumerate(request.lines):
        item = found.get(line.sku)
        field = f"lines.{index}.sku"
        if item is None:
            errors.append(FieldError(field, "unknown sku"))
        elif not _is_price(item.price_cents):
            errors.append(FieldError(field, "this sku has no price"))
        elif item.currency != request.currency:
            errors.append(FieldError(field, "this sku is not sold in the order's currency"))
        else:
            priced.append(OrderLine(sku=line.sku, quantity=line.quantity, unitPriceCents=item.price_cents))
    if errors:
        raise InvalidOrder(errors)
    return priced


def place_order(
    request: PlaceOrderRequest,
    caller: Caller,
    *,
    orders: OrderStore,
    catalogue: Catalogue,
    token_ttl_seconds: int,
    now: Callable[[], str],
    order_id: str | None = None,
    new_id: Callable[[], str] = new_order_id,
    new_ref: Callable[[], str] = new_payment_ref,
) -> dict[str, str]:
    """Prices the lines, stores the order PENDING with its token apart; returns {"orderId", "status"}.

    `order_id` is given for an idempotent request (`order_id_for`): when that order is already
    stored (an earlier attempt stored it and then died), it is returned if it is the same caller's
    same request, and IdempotencyConflict is raised if not.
    """
    customer_id = customer_for(caller, request.onBehalfOf)
    lines = price_lines(request, catalogue)
    created_at = now()
    order = NewOrder(
        order_id=order_id or new_id(),
        customer_id=customer_id,
        placed_by=caller.id,
        lines=lines,
        currency=request.currency,
        payment_ref=new_ref(),
        payment_token=request.paymentToken,
        token_expires_at=_epoch_seconds(created_at) + token_ttl_seconds,
        request_digest=request_digest(request),
        created_at=created_at,
    )
    try:
        orders.create(order)
    except OrderExists:
        stored = orders.get(order.order_id)
        if (
            stored is None
            or stored.get("placedBy") != caller.id
            or stored.get("requestDigest") != order.request_digest
        ):
            raise IdempotencyConflict("the Idempotency-Key was used for another request") from None
        return {"orderId": order.order_id, "status": str(stored.get("status"))}
    return {"orderId": order.order_id, "status": "PENDING"}


def is_order_id(value: str) -> bool:
    """Whether a path value can be an order id at all (no lookup for anything else)."""
    return len(value) == 36 and _ORDER_ID.fullmatch(value) is not None


def get_order(order_id: str, caller: Caller, *, orders: OrderStore) -> dict[str, Any] | None:
    """The order's public view for its customer or whoever placed it; None for anyone else.

    Not found and not yours look the same (a 404): an id tells a stranger nothing.
    """
    if not is_order_id(order_id):
        return None
    found = orders.get(order_id)
    if found is None or caller.id not in (found.get("customerId"), found.get("placedBy")):
        return None
    return {field: found.get(field) for field in PUBLIC_FIELDS}


def _is_price(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_UNIT_PRICE_CENTS


def _epoch_seconds(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp())
