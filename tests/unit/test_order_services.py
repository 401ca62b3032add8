"""The order flow's pure services and small adapters, with fakes: no AWS."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from accounting.service import InvalidLedgerEvent, LedgerEntry, entry_for, parse_event, record_event
from inventory.service import (
    InsufficientStock,
    InvalidInventoryRequest,
    OutOfStock,
    handle,
    parse_request,
)
from order_status.iot import data_endpoint
from order_status.service import InvalidStatusEvent, publish_status, topic_for
from order_status.service import parse_event as parse_status_event
from payment.provider import PaymentDeclined, PaymentTransientError, SimulatedPaymentProvider
from payment.service import (
    InvalidPaymentRequest,
    InvalidRefundRequest,
    Outcome,
    PaymentRecord,
    PaymentRequest,
    RefundRequest,
    parse_payment_request,
    parse_refund_request,
    process_payment,
    refund_order,
)
from shared.contracts.orders import OrderStatusChanged
from shared.eventbus import EventBridgePublisher, PublishFailed

ORDER_ID = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"
NOW = "2026-11-22T10:00:00.000Z"


def now() -> str:
    return NOW


# -- shared: the EventBridge publisher -------------------------------------------------------------


class FakeEvents:
    """PutEvents that fails the listed entry positions for the first `failing_calls` calls."""

    def __init__(self, failing_calls: int, positions: set[int]) -> None:
        self.failing_calls = failing_calls
        self.positions = positions
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        failing = len(self.calls) <= self.failing_calls
        results = [
            {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
            if failing and i in self.positions
            else {"EventId": f"e-{len(self.calls)}-{i}"}
            for i in range(len(Entries))
        ]
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def status(order_status: str) -> OrderStatusChanged:
    return OrderStatusChanged.model_validate(
        {"orderId": ORDER_ID, "customerId": "c-1", "status": order_status, "changedAt": NOW}
    )


def test_the_publisher_retries_only_the_entries_that_failed() -> None:
    # Given PutEvents failing the second of two entries once
    client = FakeEvents(failing_calls=1, positions={1})
    sleeps: list[float] = []
    publisher = EventBridgePublisher(client, bus_name="bus", sleep=sleeps.append)
    # When two events are published
    publisher.publish(status("RESERVED"), status("PAID"))
    # Then the retry sends only the failed entry, after a short back-off
    assert [len(call) for call in client.calls] == [2, 1]
    assert json.loads(client.calls[1][0]["Detail"])["status"] == "PAID"
    assert client.calls[0][0] == {
        "Source": "myapp.orders",
        "DetailType": "OrderStatusChanged",
        "Detail": status("RESERVED").model_dump_json(),
        "EventBusName": "bus",
    }
    assert sleeps == [0.1]


def test_the_publisher_gives_up_after_three_attempts_naming_the_error() -> None:
    client = FakeEvents(failing_calls=99, positions={0})
    publisher = EventBridgePublisher(client, bus_name="bus", sleep=lambda _: None)
    with pytest.raises(PublishFailed, match="1 of 1 events not published to bus after 3 attempts"):
        publisher.publish(status("PAID"))
    assert len(client.calls) == 3


# -- inventory -------------------------------------------------------------------------------------


class FakeStock:
    def __init__(self, available: dict[str, int]) -> None:
        self.available = available
        self.reservations: dict[str, dict[str, int]] = {}

    def reserve(self, order_id: str, quantities: dict[str, int]) -> bool:
        if order_id in self.reservations:
            return False
        for sku, quantity in quantities.items():
            if self.available.get(sku, 0) < quantity:
                raise InsufficientStock(sku, quantity)
        for sku, quantity in quantities.items():
            self.available[sku] -= quantity
        self.reservations[order_id] = quantities
        return True

    def release(self, order_id: str) -> bool:
        held = self.reservations.pop(order_id, None)
        for sku, quantity in (held or {}).items():
            self.available[sku] += quantity
        return held is not None


def inventory_event(action: str, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"action": action, "orderId": ORDER_ID, "lines": lines or []}


def test_reserve_then_release_returns_the_stock() -> None:
    # Given stock, and the workflow's reserve payload (whole order lines, prices included)
    stock = FakeStock({"BOOK-0001": 5})
    lines = [{"sku": "BOOK-0001", "quantity": 2, "unitPriceCents": 1250}]
    # When the order is reserved, then released
    reserved = handle(parse_request(inventory_event("reserve", lines)), store=stock)
    after_reserve = dict(stock.available)
    released = handle(parse_request(inventory_event("release")), store=stock)
    # Then both report success and the stock is back
    assert reserved == {"reserved": True, "orderId": ORDER_ID}
    assert after_reserve == {"BOOK-0001": 3}
    assert released == {"released": True} and stock.available == {"BOOK-0001": 5}


def test_repeated_skus_are_reserved_as_one_quantity() -> None:
    request = parse_request(
        inventory_event("reserve", [{"sku": "A-1", "quantity": 2}, {"sku": "A-1", "quantity": 3}])
    )
    assert request.quantities() == {"A-1": 5}


def test_too_little_stock_is_out_of_stock_naming_the_sku() -> None:
    stock = FakeStock({"BOOK-0001": 1})
    with pytest.raises(OutOfStock, match="sku BOOK-0001: requested 2"):
        handle(parse_request(inventory_event("reserve", [{"sku": "BOOK-0001", "quantity": 2}])), store=stock)
    assert stock.available == {"BOOK-0001": 1}


@pytest.mark.parametrize(
    ("event", "why"),
    [
        ({"action": "restock", "orderId": ORDER_ID, "lines": []}, "action"),
        ({"action": "reserve", "orderId": ORDER_ID, "lines": []}, "at least one line"),
        ({"action": "reserve", "orderId": "x", "lines": [{"sku": "A", "quantity": 1}]}, "orderId"),
        ({"action": "reserve", "orderId": ORDER_ID, "lines": [{"sku": "A", "quantity": 0}]}, "quantity"),
        ({"orderId": ORDER_ID}, "action"),
        ("reserve", "InventoryRequest"),
    ],
)
def test_a_malformed_inventory_request_is_refused_clearly(event: Any, why: str) -> None:
    with pytest.raises(InvalidInventoryRequest, match=why):
        parse_request(event)


# -- payment: the simulated provider ---------------------------------------------------------------


def test_the_simulated_provider_charges_with_a_deterministic_charge_id() -> None:
    charge = SimulatedPaymentProvider(limit_cents=100_000).charge(ORDER_ID, 3399, "EUR", "tok_visa", 0)
    assert charge.charge_id == "ch_" + hashlib.sha256(ORDER_ID.encode()).hexdigest()[:16]
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


def test_the_simulated_provider_charges_exactly_the_limit_and_a_transient_token_on_retry() -> None:
    provider = SimulatedPaymentProvider(limit_cents=100_000)
    assert provider.charge(ORDER_ID, 100_000, "EUR", "tok_visa", 0).amount_cents == 100_000
    assert provider.charge(ORDER_ID, 100, "EUR", "tok_transient", 1).charge_id.startswith("ch_")


# -- payment: the service --------------------------------------------------------------------------


class FakeRecords:
    def __init__(self) -> None:
        self.items: dict[str, PaymentRecord] = {}

    def get(self, order_id: str) -> PaymentRecord | None:
        return self.items.get(order_id)

    def record_charge(self, record: PaymentRecord, *, at: str) -> bool:
        if record.order_id in self.items:
            return False
        self.items[record.order_id] = record
        return True

    def mark_refunded(self, order_id: str, *, refund_id: str, at: str) -> bool:
        record = self.items.get(order_id)
        if record is None or record.status != "CHARGED":
            return False
        self.items[order_id] = PaymentRecord(**{**record.__dict__, "status": "REFUNDED"})
        return True


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


class CountingProvider(SimulatedPaymentProvider):
    def __init__(self) -> None:
        super().__init__(limit_cents=100_000)
        self.charges = 0
        self.refunds = 0

    def charge(self, *args: Any) -> Any:
        self.charges += 1
        return super().charge(*args)

    def refund(self, *args: Any) -> str:
        self.refunds += 1
        return super().refund(*args)


def payment(**changes: Any) -> PaymentRequest:
    return PaymentRequest.model_validate(
        {
            "taskToken": "token-1",
            "orderId": ORDER_ID,
            "amountCents": 3399,
            "currency": "EUR",
            "paymentToken": "tok_visa",
            "attempt": 0,
            **changes,
        }
    )


def test_a_payment_is_charged_recorded_and_reported_to_the_workflow() -> None:
    # Given a live task token
    provider, records, tasks = CountingProvider(), FakeRecords(), FakeTasks()
    # When the payment request is processed
    outcome = process_payment(payment(), provider=provider, records=records, tasks=tasks, now=now)
    # Then the order is charged once, recorded CHARGED, and the task succeeds with the charge
    charge_id = "ch_" + hashlib.sha256(ORDER_ID.encode()).hexdigest()[:16]
    assert outcome is Outcome.CHARGED and provider.charges == 1
    assert records.items[ORDER_ID].status == "CHARGED"
    assert tasks.calls[-1] == (
        "succeed",
        "token-1",
        json.dumps({"amountCents": 3399, "chargeId": charge_id}, sort_keys=True),
    )


def test_a_redelivered_payment_is_not_charged_again() -> None:
    provider, records = CountingProvider(), FakeRecords()
    process_payment(payment(), provider=provider, records=records, tasks=FakeTasks(), now=now)
    tasks = FakeTasks()
    outcome = process_payment(
        payment(taskToken="token-2"), provider=provider, records=records, tasks=tasks, now=now
    )
    assert outcome is Outcome.ALREADY_CHARGED and provider.charges == 1
    assert tasks.calls[-1][:2] == ("succeed", "token-2")


@pytest.mark.parametrize(
    ("changes", "outcome", "error"),
    [
        ({"paymentToken": "tok_declined"}, Outcome.DECLINED, "PaymentDeclined"),
        ({"amountCents": 100_001}, Outcome.DECLINED, "PaymentDeclined"),
        ({"paymentToken": "tok_transient"}, Outcome.TRANSIENT, "PaymentTransientError"),
    ],
)
def test_a_refused_payment_fails_the_task_with_the_error_the_workflow_handles(
    changes: dict[str, Any], outcome: Outcome, error: str
) -> None:
    records, tasks = FakeRecords(), FakeTasks()
    result = process_payment(
        payment(**changes), provider=CountingProvider(), records=records, tasks=tasks, now=now
    )
    assert result is outcome
    assert tasks.calls[-1] == ("fail", "token-1", error)
    assert records.items == {}


def test_a_request_the_workflow_stopped_waiting_for_is_not_charged() -> None:
    # Given a token that timed out while the message waited in the queue
    provider, tasks = CountingProvider(), FakeTasks(alive=False)
    # When the message is processed
    outcome = process_payment(payment(), provider=provider, records=FakeRecords(), tasks=tasks, now=now)
    # Then nothing is charged
    assert outcome is Outcome.STALE and provider.charges == 0
    assert tasks.calls == [("heartbeat", "token-1")]


def test_a_refunded_order_is_not_charged_again_and_fails_the_task() -> None:
    provider, records = CountingProvider(), FakeRecords()
    process_payment(payment(), provider=provider, records=records, tasks=FakeTasks(), now=now)
    refund_order(RefundRequest(orderId=ORDER_ID), provider=provider, records=records, now=now)
    tasks = FakeTasks()
    outcome = process_payment(payment(), provider=provider, records=records, tasks=tasks, now=now)
    assert outcome is Outcome.ALREADY_REFUNDED and provider.charges == 1
    assert tasks.calls[-1] == ("fail", "token-1", "PaymentAlreadyRefunded")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("not json", "body"),
        (json.dumps({"orderId": ORDER_ID}), "taskToken"),
        (json.dumps({**payment().model_dump(), "taskToken": ""}), "taskToken"),
        (json.dumps({**payment().model_dump(), "amountCents": -1}), "amountCents"),
    ],
)
def test_a_poison_payment_message_is_refused_without_echoing_tokens(body: str, why: str) -> None:
    with pytest.raises(InvalidPaymentRequest, match=why) as error:
        parse_payment_request(body)
    assert "tok_visa" not in str(error.value)


def test_a_refund_returns_the_money_once() -> None:
    # Given a charged order
    provider, records = CountingProvider(), FakeRecords()
    process_payment(payment(), provider=provider, records=records, tasks=FakeTasks(), now=now)
    # When the workflow asks for a refund, twice (a retried invocation)
    first = refund_order(RefundRequest(orderId=ORDER_ID), provider=provider, records=records, now=now)
    second = refund_order(RefundRequest(orderId=ORDER_ID), provider=provider, records=records, now=now)
    # Then the provider refunds once, and both answers say what happened
    assert first == second == {"refunded": True, "refundedCents": 3399}
    assert provider.refunds == 1 and records.items[ORDER_ID].status == "REFUNDED"


def test_a_refund_of_an_order_never_charged_refunds_nothing() -> None:
    provider = CountingProvider()
    result = refund_order(RefundRequest(orderId=ORDER_ID), provider=provider, records=FakeRecords(), now=now)
    assert result == {"refunded": False, "refundedCents": 0} and provider.refunds == 0


@pytest.mark.parametrize("event", [{}, {"orderId": "nope"}, "x"])
def test_a_malformed_refund_request_is_refused(event: Any) -> None:
    with pytest.raises(InvalidRefundRequest, match=r"orderId|RefundRequest"):
        parse_refund_request(event)


# -- accounting ------------------------------------------------------------------------------------


def bus_event(detail_type: str, detail: dict[str, Any], event_id: str = "evt-1") -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": "myapp.orders",
        "account": "123456789012",
        "time": "2026-11-22T10:05:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


COMPLETED = {
    "orderId": ORDER_ID,
    "customerId": "c-1",
    "totalCents": 3399,
    "currency": "EUR",
    "invoiceKey": f"invoices/{ORDER_ID}.json",
}
FAILED = {"orderId": ORDER_ID, "customerId": "c-1", "reason": "X", "refunded": True, "refundedCents": 3399}


class FakeLedger:
    def __init__(self) -> None:
        self.entries: dict[str, LedgerEntry] = {}

    def record(self, entry: LedgerEntry, *, at: str) -> bool:
        if entry.entry_id in self.entries:
            return False
        self.entries[entry.entry_id] = entry
        return True


def test_a_completed_order_is_a_sale_and_a_refund_is_negative() -> None:
    sale = entry_for(parse_event(bus_event("OrderCompleted", COMPLETED)))
    refund = entry_for(parse_event(bus_event("OrderFailed", {**FAILED, "currency": "EUR"})))
    assert sale is not None and refund is not None
    assert (sale.entry_id, sale.kind, sale.amount_cents, sale.currency) == (
        f"{ORDER_ID}#SALE",
        "SALE",
        3399,
        "EUR",
    )
    assert (refund.entry_id, refund.kind, refund.amount_cents, refund.currency) == (
        f"{ORDER_ID}#REFUND",
        "REFUND",
        -3399,
        "EUR",
    )


def test_a_failure_that_refunded_nothing_moves_nothing_in_the_ledger() -> None:
    ledger = FakeLedger()
    event = parse_event(bus_event("OrderFailed", {**FAILED, "refunded": False, "refundedCents": 0}))
    assert record_event(event, ledger=ledger, now=NOW)["recorded"] is False
    assert ledger.entries == {}


def test_the_same_sale_twice_is_recorded_once() -> None:
    ledger = FakeLedger()
    first = record_event(parse_event(bus_event("OrderCompleted", COMPLETED, "a")), ledger=ledger, now=NOW)
    again = record_event(parse_event(bus_event("OrderCompleted", COMPLETED, "b")), ledger=ledger, now=NOW)
    assert (first["recorded"], again["recorded"]) == (True, False)
    assert len(ledger.entries) == 1


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (bus_event("OrderPlaced", COMPLETED), "not an order event accounting records"),
        ({**bus_event("OrderCompleted", COMPLETED), "source": "myapp.other"}, "source='myapp.other'"),
        (bus_event("OrderCompleted", {**COMPLETED, "totalCents": "lots"}), "totalCents"),
        (bus_event("OrderFailed", {**FAILED, "refunded": "maybe"}), "refunded"),
        ("not an event", "not an order event"),
    ],
)
def test_an_event_accounting_cannot_record_is_refused_clearly(event: Any, why: str) -> None:
    with pytest.raises(InvalidLedgerEvent, match=why):
        parse_event(event)


# -- order status ----------------------------------------------------------------------------------


class FakeIot:
    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    def publish(self, topic: str, payload: str) -> None:
        self.published.append((topic, payload))


def test_a_status_change_goes_to_the_orders_topic_as_its_detail() -> None:
    event = bus_event(
        "OrderStatusChanged",
        {"orderId": ORDER_ID, "customerId": "c-1", "status": "PAID", "changedAt": NOW},
    )
    iot = FakeIot()
    topic = publish_status(parse_status_event(event).detail, publisher=iot)
    assert topic == topic_for(ORDER_ID) == f"orders/{ORDER_ID}/status"
    [(published_topic, payload)] = iot.published
    assert published_topic == topic and json.loads(payload)["status"] == "PAID"


def test_a_status_change_for_a_topic_injection_is_refused() -> None:
    event = bus_event(
        "OrderStatusChanged", {"orderId": "#", "customerId": "c-1", "status": "PAID", "changedAt": NOW}
    )
    with pytest.raises(InvalidStatusEvent, match="evt-1"):
        parse_status_event(event)


def test_the_iot_endpoint_is_configured_local_or_looked_up() -> None:
    def lookup() -> str:
        return "abc-ats.iot.us-east-1.amazonaws.com"

    def no_lookup() -> str:
        raise AssertionError("no lookup expected")

    assert data_endpoint(configured="https://x.example", endpoint_url=None, describe=no_lookup) == (
        "https://x.example"
    )
    assert data_endpoint(configured="x.example", endpoint_url=None, describe=no_lookup) == "https://x.example"
    assert data_endpoint(configured=None, endpoint_url="http://127.0.0.1:4566", describe=no_lookup) is None
    assert data_endpoint(configured=None, endpoint_url=None, describe=lookup) == (
        "https://abc-ats.iot.us-east-1.amazonaws.com"
    )
