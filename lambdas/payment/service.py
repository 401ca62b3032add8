"""Charges an order once and answers the workflow, or refunds it once; only ports here, no AWS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from payment.provider import Charge, PaymentDeclined, PaymentProvider, PaymentTransientError
from shared.contracts.orders import UUID_PATTERN, Currency, PaymentToken


class InvalidPaymentRequest(ValueError):
    """A message the payment service cannot act on (a poison message); the message says why."""


class InvalidRefundRequest(ValueError):
    """The workflow's refund payload is not `{"orderId": <uuid>}`."""


class PaymentRequest(BaseModel):
    """The body of a payment queue message, sent by the workflow's waitForTaskToken task."""

    model_config = ConfigDict(frozen=True)

    taskToken: str = Field(min_length=1, max_length=2048)
    orderId: str = Field(pattern=UUID_PATTERN)
    amountCents: int = Field(ge=0)
    currency: Currency
    paymentToken: PaymentToken
    attempt: int = Field(default=0, ge=0)  # the workflow's retry count: $$.State.RetryCount


class RefundRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    orderId: str = Field(pattern=UUID_PATTERN)


@dataclass(frozen=True)
class PaymentRecord:
    """What the payments table holds per order."""

    order_id: str
    charge_id: str
    amount_cents: int
    currency: str
    status: Literal["CHARGED", "REFUNDED"]


class PaymentRecords(Protocol):
    """The payments table: one record per order."""

    def get(self, order_id: str) -> PaymentRecord | None: ...

    def record_charge(self, record: PaymentRecord, *, at: str) -> bool:
        """Stores a CHARGED record; False (and nothing written) when the order has one already."""
        ...

    def mark_refunded(self, order_id: str, *, refund_id: str, at: str) -> bool:
        """CHARGED -> REFUNDED; False when the record was not CHARGED."""
        ...


class TaskResponder(Protocol):
    """Answers a Step Functions task token. Each call returns False when the workflow no longer waits
    on the token (timed out, or already answered): there is nobody to tell."""

    def heartbeat(self, token: str) -> bool: ...

    def succeed(self, token: str, output: dict[str, Any]) -> bool: ...

    def fail(self, token: str, *, error: str, cause: str) -> bool: ...


class Outcome(StrEnum):
    CHARGED = "charged"
    ALREADY_CHARGED = "already-charged"  # a redelivery: the recorded charge is reported again
    ALREADY_REFUNDED = "already-refunded"
    DECLINED = "declined"
    TRANSIENT = "transient"
    STALE = "stale"  # the workflow stopped waiting before we started: nothing charged
    # Charged, but the workflow stopped waiting in the meantime: the charge stays recorded, so the
    # workflow's refund finds it if it runs later; otherwise it needs reconciling (logged as an error).
    UNANSWERED = "unanswered"


def describe(error: ValidationError) -> str:
    """The violations without the input values (which hold tokens)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
        for e in error.errors(include_url=False, include_input=False)
    )


def parse_payment_request(body: str) -> PaymentRequest:
    try:
        return PaymentRequest.model_validate_json(body)
    except ValidationError as error:
        raise InvalidPaymentRequest(f"invalid payment request: {describe(error)}") from error


def parse_refund_request(event: Any) -> RefundRequest:
    try:
        return RefundRequest.model_validate(event)
    except ValidationError as error:
        raise InvalidRefundRequest(f"invalid refund request: {describe(error)}") from error


def charge_output(record: PaymentRecord) -> dict[str, Any]:
    """What the workflow's payment task returns: `$.payment`."""
    return {"chargeId": record.charge_id, "amountCents": record.amount_cents}


def process_payment(
    request: PaymentRequest,
    *,
    provider: PaymentProvider,
    records: PaymentRecords,
    tasks: TaskResponder,
    now: Callable[[], str],
) -> Outcome:
    """Charges the order at most once and tells the workflow how it went (task success or failure)."""
    token = request.taskToken
    # A message that waited in the queue past the task's heartbeat/timeout belongs to an order the
    # workflow has already failed and compensated: charging it now would take money for nothing.
    if not tasks.heartbeat(token):
        return Outcome.STALE
    existing = records.get(request.orderId)
    if existing is not None:
        if existing.status == "REFUNDED":
            tasks.fail(token, error="PaymentAlreadyRefunded", cause=f"order {request.orderId} was refunded")
            return Outcome.ALREADY_REFUNDED
        tasks.succeed(token, charge_output(existing))
        return Outcome.ALREADY_CHARGED
    try:
        charge: Charge = provider.charge(
            request.orderId, request.amountCents, request.currency, request.paymentToken, request.attempt
        )
    except PaymentDeclined as error:
        tasks.fail(token, error="PaymentDeclined", cause=str(error))
        return Outcome.DECLINED
    except PaymentTransientError as error:
        # The workflow retries the task (a new message, a new token, attempt + 1): this message is done.
        tasks.fail(token, error="PaymentTransientError", cause=str(error))
        return Outcome.TRANSIENT
    record = PaymentRecord(
        order_id=request.orderId,
        charge_id=charge.charge_id,
        amount_cents=charge.amount_cents,
        currency=request.currency,
        status="CHARGED",
    )
    if not records.record_charge(record, at=now()):
        # A concurrent delivery recorded this order's charge first (the provider charged once: same key).
        record = records.get(request.orderId) or record
    if not tasks.succeed(token, charge_output(record)):
        return Outcome.UNANSWERED
    return Outcome.CHARGED


def refund_order(
    request: RefundRequest, *, provider: PaymentProvider, records: PaymentRecords, now: Callable[[], str]
) -> dict[str, Any]:
    """Refunds the order's charge once. {"refunded": false, "refundedCents": 0} when nothing was charged;
    an already refunded order answers as the refund did, so a retried invocation reports the same."""
    record = records.get(request.orderId)
    if record is None:
        return {"refunded": False, "refundedCents": 0}
    if record.status == "CHARGED":
        refund_id = provider.refund(record.order_id, record.charge_id, record.amount_cents)
        if not records.mark_refunded(record.order_id, refund_id=refund_id, at=now()):
            record = records.get(request.orderId) or record  # refunded concurrently
        else:
            record = replace(record, status="REFUNDED")
    refunded = record.status == "REFUNDED"
    return {"refunded": refunded, "refundedCents": record.amount_cents if refunded else 0}
