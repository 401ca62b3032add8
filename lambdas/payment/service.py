"""Charges an order once and answers the workflow, or refunds it once; only ports here, no AWS.

The payments table holds one record per order, and every move of money is a conditional write on it:
CHARGED (money taken), REFUNDED (taken and given back) or VOIDED (a tombstone: the order was
refunded before any charge landed, so a charge that lands later gives itself back). Each move is
announced as PaymentCharged / PaymentRefunded after its record is written, and again on a retry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from payment.provider import Charge, PaymentDeclined, PaymentProvider, PaymentTransientError
from shared.contracts.orders import UUID_PATTERN, Currency, PaymentRef
from shared.contracts.payments import PaymentCharged, PaymentRefunded
from shared.validation import describe  # never the input values (they hold task tokens)


class InvalidPaymentRequest(ValueError):
    """A message the payment service cannot act on (a poison message); the message says why."""


class InvalidRefundRequest(ValueError):
    """The workflow's refund payload is not `{"orderId": <uuid>}`."""


class PaymentRequest(BaseModel):
    """The body of a payment queue message, sent by the workflow's waitForTaskToken task.
    It names the token by `paymentRef`: the token itself stays in the PaymentTokens table."""

    model_config = ConfigDict(frozen=True)

    taskToken: str = Field(min_length=1, max_length=2048)
    orderId: str = Field(pattern=UUID_PATTERN)
    amountCents: int = Field(ge=0)
    currency: Currency
    paymentRef: PaymentRef
    attempt: int = Field(default=0, ge=0)  # the workflow's retry count: $$.State.RetryCount


class RefundRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    orderId: str = Field(pattern=UUID_PATTERN)


Status = Literal["CHARGED", "REFUNDED", "VOIDED"]


@dataclass(frozen=True)
class PaymentRecord:
    """What the payments table holds per order (a VOIDED tombstone has no charge)."""

    order_id: str
    status: Status
    charge_id: str | None = None
    amount_cents: int = 0
    currency: str | None = None
    charged_at: str | None = None
    refund_id: str | None = None
    refunded_at: str | None = None


@dataclass(frozen=True)
class StoredToken:
    order_id: str
    token: str


class PaymentRecords(Protocol):
    """The payments table: one record per order, each change conditional."""

    def get(self, order_id: str) -> PaymentRecord | None: ...

    def record_charge(self, record: PaymentRecord) -> bool:
        """Stores a CHARGED record; False (nothing written) when the order has a record already."""
        ...

    def mark_refunded(self, order_id: str, *, refund_id: str, at: str) -> bool:
        """CHARGED -> REFUNDED; False when the record was not CHARGED."""
        ...

    def void(self, order_id: str, *, at: str) -> bool:
        """Writes the VOIDED tombstone; False when the order has a record already."""
        ...

    def refund_late_charge(self, record: PaymentRecord) -> bool:
        """VOIDED -> REFUNDED with the charge and its refund; False when the record was not VOIDED."""
        ...


class PaymentTokens(Protocol):
    """The PaymentTokens table, written by intake: the one place the token is kept."""

    def get(self, payment_ref: str) -> StoredToken | None: ...

    def delete(self, payment_ref: str) -> None: ...


class TaskResponder(Protocol):
    """Answers a Step Functions task token. Each call returns False when the workflow no longer waits
    on the token (timed out, or already answered): there is nobody to tell."""

    def heartbeat(self, token: str) -> bool: ...

    def succeed(self, token: str, output: dict[str, Any]) -> bool: ...

    def fail(self, token: str, *, error: str, cause: str) -> bool: ...


class PaymentEvents(Protocol):
    def publish(self, *details: PaymentCharged | PaymentRefunded) -> None: ...


class Outcome(StrEnum):
    CHARGED = "charged"
    ALREADY_CHARGED = "already-charged"  # a redelivery: the recorded charge is reported again
    ALREADY_REFUNDED = "already-refunded"
    DECLINED = "declined"
    TRANSIENT = "transient"
    NO_TOKEN = "no-token"  # the token is gone (or belongs to another order): nothing to charge with
    STALE = "stale"  # the workflow stopped waiting before we started: nothing charged
    # Charged, but the order was refunded (tombstone) before the charge was recorded: given back at once.
    LATE_REFUNDED = "late-refunded"
    # Charged, but the workflow stopped waiting in the meantime: the charge stays recorded, and the
    # workflow's compensation (which runs when the task times out) refunds it.
    UNANSWERED = "unanswered"


def parse_payment_request(body: str) -> PaymentRequest:
    try:
        return PaymentRequest.model_validate_json(body)
    except ValidationError as error:
        # Not chained: pydantic's own message, in a logged traceback, would repeat the input.
        raise InvalidPaymentRequest(f"invalid payment request: {describe(error)}") from None


def task_token_of(body: str) -> str | None:
    """The task token of a message that is otherwise unusable, so its order can still be failed."""
    try:
        token = json.loads(body).get("taskToken")
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, str) and 0 < len(token) <= 2048 else None


def parse_refund_request(event: Any) -> RefundRequest:
    try:
        return RefundRequest.model_validate(event)
    except ValidationError as error:
        # Not chained: pydantic's own message, in a logged traceback, would repeat the input.
        raise InvalidRefundRequest(f"invalid refund request: {describe(error)}") from None


def charge_output(record: PaymentRecord) -> dict[str, Any]:
    """What the workflow's payment task returns: `$.payment`."""
    return {"chargeId": record.charge_id, "amountCents": record.amount_cents}


def charged_event(record: PaymentRecord) -> PaymentCharged:
    return PaymentCharged.model_validate(
        {
            "orderId": record.order_id,
            "chargeId": record.charge_id,
            "amountCents": record.amount_cents,
            "currency": record.currency,
            "chargedAt": record.charged_at,
        }
    )


def refunded_event(record: PaymentRecord) -> PaymentRefunded:
    return PaymentRefunded.model_validate(
        {
            "orderId": record.order_id,
            "chargeId": record.charge_id,
            "refundId": record.refund_id,
            "amountCents": record.amount_cents,
            "currency": record.currency,
            "refundedAt": record.refunded_at,
        }
    )


@dataclass(frozen=True)
class PaymentPorts:
    provider: PaymentProvider
    records: PaymentRecords
    tokens: PaymentTokens
    tasks: TaskResponder
    events: PaymentEvents
    now: Callable[[], str]


def process_payment(request: PaymentRequest, ports: PaymentPorts) -> Outcome:
    """Charges the order at most once and tells the workflow how it went (task success or failure)."""
    token, tasks = request.taskToken, ports.tasks
    # A message that waited in the queue past the task's heartbeat/timeout belongs to an order the
    # workflow has already failed and compensated: charging it now would take money for nothing.
    if not tasks.heartbeat(token):
        return Outcome.STALE
    existing = ports.records.get(request.orderId)
    if existing is not None:
        return _answer_recorded(request, existing, ports)
    stored = ports.tokens.get(request.paymentRef)
    if stored is None or stored.order_id != request.orderId:
        tasks.fail(token, error="PaymentTokenMissing", cause=f"no payment token for order {request.orderId}")
        return Outcome.NO_TOKEN
    try:
        charge: Charge = ports.provider.charge(
            request.orderId, request.amountCents, request.currency, stored.token, request.attempt
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
        status="CHARGED",
        charge_id=charge.charge_id,
        amount_cents=charge.amount_cents,
        currency=request.currency,
        charged_at=ports.now(),
    )
    if ports.records.record_charge(record):
        return _answer_recorded(request, record, ports, fresh=True)
    # Someone wrote first: a concurrent delivery (the provider charged once: same key), or the
    # refund's tombstone, in which case this charge landed too late and goes back at once.
    found = ports.records.get(request.orderId)
    if found is not None and found.status == "VOIDED":
        return _refund_late_charge(request, record, ports)
    record = found or record
    return _answer_recorded(request, record, ports)


def _answer_recorded(
    request: PaymentRequest, record: PaymentRecord, ports: PaymentPorts, *, fresh: bool = False
) -> Outcome:
    token = request.taskToken
    if record.status != "CHARGED":
        ports.tasks.fail(token, error="PaymentAlreadyRefunded", cause=f"order {request.orderId} was refunded")
        return Outcome.ALREADY_REFUNDED
    # Published again on every delivery: a publish lost after the record is made good by the retry.
    ports.events.publish(charged_event(record))
    # The token has served its purpose once the charge is recorded.
    ports.tokens.delete(request.paymentRef)
    answered = ports.tasks.succeed(token, charge_output(record))
    if not answered:
        return Outcome.UNANSWERED
    return Outcome.CHARGED if fresh else Outcome.ALREADY_CHARGED


def _refund_late_charge(request: PaymentRequest, charge: PaymentRecord, ports: PaymentPorts) -> Outcome:
    assert charge.charge_id is not None
    refund_id = ports.provider.refund(charge.order_id, charge.charge_id, charge.amount_cents)
    refunded = replace(charge, status="REFUNDED", refund_id=refund_id, refunded_at=ports.now())
    if ports.records.refund_late_charge(refunded):
        ports.events.publish(charged_event(refunded), refunded_event(refunded))
    ports.tokens.delete(request.paymentRef)
    ports.tasks.fail(
        request.taskToken, error="PaymentAlreadyRefunded", cause=f"order {request.orderId} was refunded"
    )
    return Outcome.LATE_REFUNDED


def refund_order(
    request: RefundRequest,
    *,
    provider: PaymentProvider,
    records: PaymentRecords,
    events: PaymentEvents,
    now: Callable[[], str],
) -> dict[str, Any]:
    """Refunds the order's charge once, and leaves a tombstone when nothing was charged yet.
    An already refunded order answers as the refund did, so a retried invocation reports the same."""
    record = records.get(request.orderId)
    if record is None:
        if records.void(request.orderId, at=now()):
            return {"refunded": False, "refundedCents": 0}
        record = records.get(request.orderId)  # a charge was recorded meanwhile: refund it
        assert record is not None
    if record.status == "CHARGED":
        assert record.charge_id is not None
        refund_id = provider.refund(record.order_id, record.charge_id, record.amount_cents)
        at = now()
        if records.mark_refunded(record.order_id, refund_id=refund_id, at=at):
            record = replace(record, status="REFUNDED", refund_id=refund_id, refunded_at=at)
        else:
            record = records.get(request.orderId) or record  # refunded concurrently
    if record.status != "REFUNDED":
        return {"refunded": False, "refundedCents": 0}
    events.publish(refunded_event(record))
    return {"refunded": True, "refundedCents": record.amount_cents}
