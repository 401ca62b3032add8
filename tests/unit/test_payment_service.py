"""The payment service with fakes: charge once, answer the workflow, refund once, tombstones; no AWS."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest

from payment.provider import PaymentDeclined, PaymentTransientError, SimulatedPaymentProvider
from payment.service import (
    InvalidPaymentRequest,
    InvalidRefundRequest,
    Outcome,
    PaymentPorts,
    PaymentRecord,
    PaymentRequest,
    RefundRequest,
    StoredToken,
    parse_payment_request,
    parse_refund_request,
    process_payment,
    refund_order,
    task_token_of,
)

ORDER_ID = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"
OTHER_ID = "0b7e0c8a-1d2f-4e3a-9b8c-7d6e5f4a3b21"
REF = "pay_" + "a" * 32
NOW = "2026-11-22T10:00:00.000Z"


def now() -> str:
    return NOW


class FakeRecords:
    def __init__(self) -> None:
        self.items: dict[str, PaymentRecord] = {}

    def get(self, order_id: str) -> PaymentRecord | None:
        return self.items.get(order_id)

    def record_charge(self, record: PaymentRecord) -> bool:
        return self._put_new(record)

    def void(self, order_id: str, *, at: str) -> bool:
        return self._put_new(PaymentRecord(order_id=order_id, status="VOIDED", refunded_at=at))

    def mark_refunded(self, order_id: str, *, refund_id: str, at: str) -> bool:
        record = self.items.get(order_id)
        if record is None or record.status != "CHARGED":
            return False
        self.items[order_id] = replace(record, status="REFUNDED", refund_id=refund_id, refunded_at=at)
        return True

    def refund_late_charge(self, record: PaymentRecord) -> bool:
        found = self.items.get(record.order_id)
        if found is None or found.status != "VOIDED":
            return False
        self.items[record.order_id] = record
        return True

    def _put_new(self, record: PaymentRecord) -> bool:
        if record.order_id in self.items:
            return False
        self.items[record.order_id] = record
        return True


class FakeTokens:
    def __init__(self, tokens: dict[str, StoredToken] | None = None) -> None:
        self.tokens = dict(
            tokens if tokens is not None else {REF: StoredToken(order_id=ORDER_ID, token="tok_visa")}
        )

    def get(self, payment_ref: str) -> StoredToken | None:
        return self.tokens.get(payment_ref)

    def delete(self, payment_ref: str) -> None:
        self.tokens.pop(payment_ref, None)


class FakeTasks:
    def __init__(self, alive: bool = True) -> None:
        self.alive = alive
        self.calls: list[tuple[str, ...]] = []

    def heartbeat(self, token: str) -> bool:
        self.calls.append(("heartbeat", token))
        return self.alive

    def succeed(self, token: str, output: dict[str, Any]) -> bool:
        self.calls.append(("succeed", token, json.dumps(output, sort_keys=True)))
        return self.alive

    def fail(self, token: str, *, error: str, cause: str) -> bool:
        self.calls.append(("fail", token, error))
        return self.alive


class FakeEvents:
    def __init__(self) -> None:
        self.published: list[Any] = []

    def publish(self, *details: Any) -> None:
        self.published.extend(details)

    def types(self) -> list[str]:
        return [d.DETAIL_TYPE for d in self.published]


class CountingProvider(SimulatedPaymentProvider):
    def __init__(self) -> None:
        super().__init__(limit_cents=100_000)
        self.charges = 0
        self.refunds = 0
        self.during_charge: Any = None

    def charge(self, *args: Any) -> Any:
        self.charges += 1
        if self.during_charge:
            self.during_charge()
        return super().charge(*args)

    def refund(self, *args: Any) -> str:
        self.refunds += 1
        return super().refund(*args)


def ports(**changes: Any) -> PaymentPorts:
    defaults: dict[str, Any] = {
        "provider": CountingProvider(),
        "records": FakeRecords(),
        "tokens": FakeTokens(),
        "tasks": FakeTasks(),
        "events": FakeEvents(),
        "now": now,
    }
    return PaymentPorts(**{**defaults, **changes})


def payment(**changes: Any) -> PaymentRequest:
    return PaymentRequest.model_validate(
        {
            "taskToken": "token-1",
            "orderId": ORDER_ID,
            "amountCents": 3399,
            "currency": "EUR",
            "paymentRef": REF,
            "attempt": 0,
            **changes,
        }
    )


def refund(p: PaymentPorts) -> dict[str, Any]:
    return refund_order(
        RefundRequest(orderId=ORDER_ID), provider=p.provider, records=p.records, events=p.events, now=now
    )


CHARGE_ID = "ch_" + hashlib.sha256(ORDER_ID.encode()).hexdigest()[:16]


# -- the simulated provider --------------------------------------------------------------------------


def test_the_simulated_provider_charges_with_a_deterministic_charge_id() -> None:
    charge = SimulatedPaymentProvider(limit_cents=100_000).charge(ORDER_ID, 3399, "EUR", "tok_visa", 0)
    assert charge.charge_id == CHARGE_ID
    assert charge.amount_cents == 3399


@pytest.mark.parametrize(
    ("amount", "token", "attempt", "error"),
    [
        (100_001, "tok_visa", 0, PaymentDeclined),
        (100, "tok_declined", 0, PaymentDeclined),
        (100, "tok_declined", 3, PaymentDeclined),
        (100, "tok_transient", 0, PaymentTransientError),
    ],
)
def test_the_simulated_provider_declines_or_fails_transiently(
    amount: int, token: str, attempt: int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        SimulatedPaymentProvider(limit_cents=100_000).charge(ORDER_ID, amount, "EUR", token, attempt)


# -- charging ---------------------------------------------------------------------------------------


def test_a_payment_is_charged_recorded_announced_and_reported_to_the_workflow() -> None:
    # Given a payment request whose token waits in the PaymentTokens table
    p = ports()
    # When the service processes it
    outcome = process_payment(payment(), p)
    # Then the money is taken once, recorded, announced, the token deleted and the workflow told
    assert outcome is Outcome.CHARGED and p.provider.charges == 1  # type: ignore[attr-defined]
    assert p.records.get(ORDER_ID).status == "CHARGED"  # type: ignore[union-attr]
    assert p.events.types() == ["PaymentCharged"]  # type: ignore[attr-defined]
    assert p.events.published[0].chargeId == CHARGE_ID  # type: ignore[attr-defined]
    assert p.tokens.get(REF) is None
    assert p.tasks.calls[-1] == (  # type: ignore[attr-defined]
        "succeed",
        "token-1",
        json.dumps({"amountCents": 3399, "chargeId": CHARGE_ID}, sort_keys=True),
    )


def test_a_redelivered_payment_is_not_charged_again_but_announced_again() -> None:
    p = ports()
    process_payment(payment(), p)
    # When the same message comes again (the token is gone by now)
    outcome = process_payment(payment(taskToken="token-2"), p)
    # Then there is no second charge; the recorded charge is reported and announced again
    assert outcome is Outcome.ALREADY_CHARGED and p.provider.charges == 1  # type: ignore[attr-defined]
    assert p.events.types() == ["PaymentCharged", "PaymentCharged"]  # type: ignore[attr-defined]
    assert p.tasks.calls[-1][:2] == ("succeed", "token-2")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("token", "error"), [("tok_declined", "PaymentDeclined"), ("tok_transient", "PaymentTransientError")]
)
def test_a_refused_payment_fails_the_task_and_records_nothing(token: str, error: str) -> None:
    p = ports(tokens=FakeTokens({REF: StoredToken(order_id=ORDER_ID, token=token)}))
    process_payment(payment(), p)
    assert p.tasks.calls[-1] == ("fail", "token-1", error)  # type: ignore[attr-defined]
    assert p.records.get(ORDER_ID) is None and p.events.published == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "tokens", [{}, {REF: StoredToken(order_id=OTHER_ID, token="tok_visa")}], ids=["gone", "other order"]
)
def test_a_payment_without_its_token_is_not_charged(tokens: dict[str, StoredToken]) -> None:
    p = ports(tokens=FakeTokens(tokens))
    assert process_payment(payment(), p) is Outcome.NO_TOKEN
    assert p.provider.charges == 0  # type: ignore[attr-defined]
    assert p.tasks.calls[-1] == ("fail", "token-1", "PaymentTokenMissing")  # type: ignore[attr-defined]


def test_a_request_the_workflow_stopped_waiting_for_is_not_charged() -> None:
    p = ports(tasks=FakeTasks(alive=False))
    assert process_payment(payment(), p) is Outcome.STALE
    assert p.provider.charges == 0 and p.records.get(ORDER_ID) is None  # type: ignore[attr-defined]


def test_an_answer_nobody_waits_for_is_unanswered_and_stays_recorded_for_the_refund() -> None:
    tasks = FakeTasks()
    p = ports(tasks=tasks)
    p.provider.during_charge = lambda: setattr(tasks, "alive", False)  # type: ignore[attr-defined]
    assert process_payment(payment(), p) is Outcome.UNANSWERED
    assert p.records.get(ORDER_ID).status == "CHARGED"  # type: ignore[union-attr]
    # And the compensation that follows the task's timeout refunds it
    assert refund(p) == {"refunded": True, "refundedCents": 3399}


# -- refunds and tombstones ---------------------------------------------------------------------------


def test_a_refund_returns_the_money_once_and_is_announced_on_every_retry() -> None:
    p = ports()
    process_payment(payment(), p)
    first, second = refund(p), refund(p)
    assert first == second == {"refunded": True, "refundedCents": 3399}
    assert p.provider.refunds == 1  # type: ignore[attr-defined]
    assert p.events.types() == ["PaymentCharged", "PaymentRefunded", "PaymentRefunded"]  # type: ignore[attr-defined]


def test_a_refund_before_any_charge_leaves_a_tombstone_that_refuses_the_charge() -> None:
    # Given the workflow gave up on the payment and compensated before the message was processed
    p = ports()
    assert refund(p) == {"refunded": False, "refundedCents": 0}
    assert p.records.get(ORDER_ID).status == "VOIDED"  # type: ignore[union-attr]
    # When the payment message is processed afterwards
    outcome = process_payment(payment(), p)
    # Then nothing is charged and the (gone) task is told the order was refunded
    assert outcome is Outcome.ALREADY_REFUNDED and p.provider.charges == 0  # type: ignore[attr-defined]


def test_a_charge_landing_after_the_tombstone_refunds_itself() -> None:
    # Given a charge in flight at the provider while the compensation leaves its tombstone
    p = ports()
    p.provider.during_charge = lambda: refund(p)  # type: ignore[attr-defined]
    # When the charge comes back and cannot be recorded
    outcome = process_payment(payment(), p)
    # Then it is refunded at once, recorded as charged-and-refunded, and both are announced
    assert outcome is Outcome.LATE_REFUNDED
    assert p.provider.refunds == 1  # type: ignore[attr-defined]
    record = p.records.get(ORDER_ID)
    assert record is not None and (record.status, record.charge_id) == ("REFUNDED", CHARGE_ID)
    assert p.events.types() == ["PaymentCharged", "PaymentRefunded"]  # type: ignore[attr-defined]
    assert p.tasks.calls[-1] == ("fail", "token-1", "PaymentAlreadyRefunded")  # type: ignore[attr-defined]


# -- what the service refuses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("not json", "body"),
        (json.dumps({"orderId": ORDER_ID}), "taskToken"),
        (json.dumps({**payment().model_dump(), "taskToken": ""}), "taskToken"),
        (json.dumps({**payment().model_dump(), "amountCents": -1}), "amountCents"),
        (json.dumps({**payment().model_dump(), "paymentRef": "tok_visa"}), "paymentRef"),
    ],
)
def test_a_poison_payment_message_is_refused_without_echoing_its_values(body: str, why: str) -> None:
    with pytest.raises(InvalidPaymentRequest, match=why) as error:
        parse_payment_request(body)
    assert "tok_visa" not in str(error.value) and REF not in str(error.value)


@pytest.mark.parametrize(
    ("body", "token"),
    [
        (json.dumps({"taskToken": "t-1", "orderId": 5}), "t-1"),
        ("not json", None),
        ("[1]", None),
        ('{"taskToken": 3}', None),
    ],
)
def test_the_task_token_of_a_poison_message_is_found_when_it_is_there(body: str, token: str | None) -> None:
    assert task_token_of(body) == token


@pytest.mark.parametrize("event", [{}, {"orderId": "nope"}, "x"])
def test_a_malformed_refund_request_is_refused(event: Any) -> None:
    with pytest.raises(InvalidRefundRequest, match=r"orderId|body"):
        parse_refund_request(event)
