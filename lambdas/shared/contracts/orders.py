"""The order flow's contracts (source `myapp.orders`): the POST /orders body and one model per DetailType."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from shared.contracts import names

SOURCE = names.ORDERS

# Printable text only: ids end up in log lines, keys and notifications.
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]+$"
SKU_PATTERN = r"^[A-Z0-9][A-Z0-9-]*$"
# Lower-case canonical UUID, as uuid4() prints it: safe inside an IoT topic and an S3 key.
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
MAX_LINES = 50

# `pay_` + 32 hex digits: names the token kept in the PaymentTokens table, never the token itself.
PAYMENT_REF_PATTERN = r"^pay_[0-9a-f]{32}$"
MAX_UNIT_PRICE_CENTS = 10_000_000

Currency = Literal["EUR", "USD", "GBP"]
# PENDING -> PROCESSING -> REJECTED | RESERVED -> PAID -> COMPLETED; any non-final -> FAILED;
# stuck, or compensation failed -> NEEDS_ATTENTION.
OrderStatus = Literal[
    "PENDING", "PROCESSING", "REJECTED", "RESERVED", "PAID", "COMPLETED", "FAILED", "NEEDS_ATTENTION"
]
FINAL_STATUSES: frozenset[str] = frozenset({"REJECTED", "COMPLETED", "FAILED", "NEEDS_ATTENTION"})
Cents = Annotated[int, Field(ge=0)]
OrderId = Annotated[str, Field(pattern=UUID_PATTERN)]
# The caller's identity: a Cognito identity id (`us-east-1:<uuid>`), a principal ARN, or the customer
# a service principal acts for; long enough for an IAM ARN with a path.
CustomerId = Annotated[str, Field(min_length=1, max_length=256, pattern=PRINTABLE_PATTERN)]
PaymentToken = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE_PATTERN)]
PaymentRef = Annotated[str, Field(pattern=PAYMENT_REF_PATTERN)]
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=SKU_PATTERN)]
Quantity = Annotated[int, Field(ge=1, le=100)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]


def _iso_timestamp(value: str) -> str:
    """Kept as the producer wrote it (Step Functions' `$$.State.EnteredTime`, or ours), but must parse."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO-8601 timestamp") from None
    return value


Timestamp = Annotated[str, AfterValidator(_iso_timestamp)]


class RequestedLine(BaseModel):
    """One line of a request: a SKU and how many. The price is the catalogue's, never the client's."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    sku: Sku
    quantity: Quantity


class OrderLine(BaseModel):
    """One line of a stored order: a SKU, how many, at the unit price the catalogue said at intake."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: Sku
    quantity: Quantity
    unitPriceCents: int = Field(ge=0, le=MAX_UNIT_PRICE_CENTS)


LineT = TypeVar("LineT", RequestedLine, OrderLine)


def _distinct_skus(lines: list[LineT]) -> list[LineT]:
    # One line per SKU: a reservation updates each stock item once, in one transaction.
    # The message names no SKU: validation errors never carry input values.
    if len({line.sku for line in lines}) != len(lines):
        raise ValueError("a sku appears on more than one line; put its quantities on one line")
    return lines


RequestedLines = Annotated[
    list[RequestedLine], Field(min_length=1, max_length=MAX_LINES), AfterValidator(_distinct_skus)
]
OrderLines = Annotated[
    list[OrderLine], Field(min_length=1, max_length=MAX_LINES), AfterValidator(_distinct_skus)
]


def total_of(lines: list[OrderLine]) -> int:
    """The order total in cents: the sum of quantity x unit price."""
    return sum(line.quantity * line.unitPriceCents for line in lines)


class PlaceOrderRequest(BaseModel):
    """The body of `POST /orders` (the API's request model says the same; unknown fields are refused).

    No customer and no prices: the customer is the caller (or, for a service principal only, the
    customer named in `onBehalfOf`), and the catalogue prices the lines.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    lines: RequestedLines
    currency: Currency
    # Opaque token from the payment provider's front-end SDK, never card data. Kept only in the
    # PaymentTokens table, under a paymentRef; no event, workflow state or log carries it.
    paymentToken: PaymentToken
    onBehalfOf: CustomerId | None = None


class OrderEvent(BaseModel):
    """What every order event detail has: the source, its DetailType (the class name), a version."""

    model_config = ConfigDict(frozen=True, str_strip_whitespace=True)

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str]

    # Consumers reject versions they do not know; a breaking change is a new version (or DetailType).
    version: Literal["1.0"] = "1.0"


class OrderPlaced(OrderEvent):
    """A new order was stored as PENDING: starts the order workflow."""

    DETAIL_TYPE: ClassVar[str] = names.ORDER_PLACED

    orderId: OrderId
    customerId: CustomerId
    lines: OrderLines
    currency: Currency
    totalCents: Cents
    # Where the payment service finds the token (the PaymentTokens table); the token never travels.
    paymentRef: PaymentRef
    placedAt: Timestamp

    @model_validator(mode="after")
    def _total_matches_lines(self) -> OrderPlaced:
        if self.totalCents != total_of(self.lines):
            raise ValueError("totalCents is not the sum of quantity x unitPriceCents of the lines")
        return self


class OrderStatusChanged(OrderEvent):
    """The order moved to a new status (published by the workflow on every transition)."""

    DETAIL_TYPE: ClassVar[str] = names.ORDER_STATUS_CHANGED

    orderId: OrderId
    customerId: CustomerId
    status: OrderStatus
    reason: Reason | None = None  # absent unless REJECTED, FAILED or NEEDS_ATTENTION
    changedAt: Timestamp


class OrderRejected(OrderEvent):
    """The order was refused before any money moved (customer blocked, out of stock)."""

    DETAIL_TYPE: ClassVar[str] = names.ORDER_REJECTED

    orderId: OrderId
    customerId: CustomerId
    reason: Reason


class OrderFailed(OrderEvent):
    """The order failed after it was accepted; the workflow compensated (released, refunded)."""

    DETAIL_TYPE: ClassVar[str] = names.ORDER_FAILED

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

    DETAIL_TYPE: ClassVar[str] = names.ORDER_COMPLETED

    orderId: OrderId
    customerId: CustomerId
    totalCents: Cents
    currency: Currency
    invoiceKey: str = Field(min_length=1, max_length=1024)  # the S3 key of the invoice


class OrderNeedsAttention(OrderEvent):
    """The order is stuck past its deadline, or its compensation failed: an operator must look at it."""

    DETAIL_TYPE: ClassVar[str] = names.ORDER_NEEDS_ATTENTION

    orderId: OrderId
    customerId: CustomerId
    reason: Reason
    previousStatus: OrderStatus  # where it was when it was given up on: what was (or was not) done


ORDER_EVENTS: tuple[type[OrderEvent], ...] = (
    OrderPlaced,
    OrderStatusChanged,
    OrderRejected,
    OrderFailed,
    OrderCompleted,
    OrderNeedsAttention,
)
