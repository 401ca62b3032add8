"""The order flow's contracts (source `myapp.orders`): the POST /orders body and one model per DetailType."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

SOURCE = "myapp.orders"

# Printable text only: ids end up in log lines, keys and notifications.
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]+$"
SKU_PATTERN = r"^[A-Z0-9][A-Z0-9-]*$"
# Lower-case canonical UUID, as uuid4() prints it: safe inside an IoT topic and an S3 key.
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
MAX_LINES = 50

Currency = Literal["EUR", "USD", "GBP"]
OrderStatus = Literal["PENDING", "REJECTED", "RESERVED", "PAID", "COMPLETED", "FAILED"]
Cents = Annotated[int, Field(ge=0)]
OrderId = Annotated[str, Field(pattern=UUID_PATTERN)]
CustomerId = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE_PATTERN)]
PaymentToken = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE_PATTERN)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]


def _iso_timestamp(value: str) -> str:
    """Kept as the producer wrote it (Step Functions' `$$.State.EnteredTime`, or ours), but must parse."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO-8601 timestamp") from None
    return value


Timestamp = Annotated[str, AfterValidator(_iso_timestamp)]


class OrderLine(BaseModel):
    """One line of an order: a SKU, how many, at what unit price."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: str = Field(min_length=1, max_length=64, pattern=SKU_PATTERN)
    quantity: int = Field(ge=1, le=100)
    unitPriceCents: int = Field(ge=0, le=10_000_000)


def _distinct_skus(lines: list[OrderLine]) -> list[OrderLine]:
    # One line per SKU: a reservation updates each stock item once, in one transaction.
    seen: set[str] = set()
    for line in lines:
        if line.sku in seen:
            raise ValueError(f"sku {line.sku} appears more than once; put the quantities on one line")
        seen.add(line.sku)
    return lines


OrderLines = Annotated[
    list[OrderLine], Field(min_length=1, max_length=MAX_LINES), AfterValidator(_distinct_skus)
]


def total_of(lines: list[OrderLine]) -> int:
    """The order total in cents: the sum of quantity x unit price."""
    return sum(line.quantity * line.unitPriceCents for line in lines)


class PlaceOrderRequest(BaseModel):
    """The body of `POST /orders` (the API's request model says the same; unknown fields are refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    customerId: CustomerId
    lines: OrderLines
    currency: Currency
    paymentToken: PaymentToken

    @property
    def total_cents(self) -> int:
        return total_of(self.lines)


class OrderEvent(BaseModel):
    """What every order event detail has: the source, its DetailType (the class name), a version."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str]

    # Consumers reject versions they do not know; a breaking change is a new version (or DetailType).
    version: Literal["1.0"] = "1.0"


class OrderPlaced(OrderEvent):
    """A new order was stored as PENDING: starts the order workflow."""

    DETAIL_TYPE: ClassVar[str] = "OrderPlaced"

    orderId: OrderId
    customerId: CustomerId
    lines: OrderLines
    currency: Currency
    totalCents: Cents
    # Opaque token from the payment provider's front-end SDK, never card data.
    paymentToken: PaymentToken
    placedAt: Timestamp

    @model_validator(mode="after")
    def _total_matches_lines(self) -> OrderPlaced:
        if self.totalCents != total_of(self.lines):
            raise ValueError(
                f"totalCents {self.totalCents} is not the sum of the lines ({total_of(self.lines)})"
            )
        return self


class OrderStatusChanged(OrderEvent):
    """The order moved to a new status (published by the workflow on every transition)."""

    DETAIL_TYPE: ClassVar[str] = "OrderStatusChanged"

    orderId: OrderId
    customerId: CustomerId
    status: OrderStatus
    reason: Reason | None = None  # absent unless REJECTED or FAILED
    changedAt: Timestamp


class OrderRejected(OrderEvent):
    """The order was refused before any money moved (customer blocked, out of stock)."""

    DETAIL_TYPE: ClassVar[str] = "OrderRejected"

    orderId: OrderId
    customerId: CustomerId
    reason: Reason


class OrderFailed(OrderEvent):
    """The order failed after it was accepted; the workflow compensated (released, refunded)."""

    DETAIL_TYPE: ClassVar[str] = "OrderFailed"

    orderId: OrderId
    customerId: CustomerId
    reason: Reason
    refunded: bool
    refundedCents: Cents
    # Optional (not in the first draft of the contract): lets the ledger record the refund's currency.
    currency: Currency | None = None

    @model_validator(mode="after")
    def _refund_is_consistent(self) -> OrderFailed:
        if not self.refunded and self.refundedCents:
            raise ValueError("refundedCents must be 0 when refunded is false")
        return self


class OrderCompleted(OrderEvent):
    """The order was paid, fulfilled and invoiced."""

    DETAIL_TYPE: ClassVar[str] = "OrderCompleted"

    orderId: OrderId
    customerId: CustomerId
    totalCents: Cents
    currency: Currency
    invoiceKey: str = Field(min_length=1, max_length=1024)  # the S3 key of the invoice


ORDER_EVENTS: tuple[type[OrderEvent], ...] = (
    OrderPlaced,
    OrderStatusChanged,
    OrderRejected,
    OrderFailed,
    OrderCompleted,
)
