"""The payment service's contracts (source `myapp.payments`): money taken and money given back."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import names
from shared.contracts.orders import Cents, Currency, OrderId, Timestamp

SOURCE = names.PAYMENTS

ChargeId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class PaymentEvent(BaseModel):
    """What every payment event detail has: the source, its DetailType, a version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    SOURCE: ClassVar[str] = SOURCE
    DETAIL_TYPE: ClassVar[str]

    version: Literal["1.0"] = "1.0"


class PaymentCharged(PaymentEvent):
    """The provider took the order's money, and the payments table records it (published after the
    conditional record, and again on a retry: consumers must re-check the table and be idempotent)."""

    DETAIL_TYPE: ClassVar[str] = names.PAYMENT_CHARGED

    orderId: OrderId
    chargeId: ChargeId
    amountCents: Cents
    currency: Currency
    chargedAt: Timestamp


class PaymentRefunded(PaymentEvent):
    """The order's charge went back to the customer, and the payments table records it."""

    DETAIL_TYPE: ClassVar[str] = names.PAYMENT_REFUNDED

    orderId: OrderId
    chargeId: ChargeId
    refundId: ChargeId
    amountCents: Cents
    currency: Currency
    refundedAt: Timestamp


PAYMENT_EVENTS: tuple[type[PaymentEvent], ...] = (PaymentCharged, PaymentRefunded)
