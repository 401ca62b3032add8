"""The order flow's intake and status services and small adapters, with fakes: no AWS.

Inventory, payment and accounting have their own files (test_inventory_service.py, ...)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from order_status.iot import data_endpoint
from order_status.service import InvalidStatusEvent, publish_status, topic_for
from order_status.service import parse_event as parse_status_event
from orders_api.service import NewOrder, OrderNotPublished, get_order, place_order
from shared.contracts.orders import OrderPlaced, OrderStatusChanged, PlaceOrderRequest
from shared.eventbus import EventBridgePublisher, PublishFailed

ORDER_ID = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"
OTHER_ID = "0b7e0c8a-1d2f-4e3a-9b8c-7d6e5f4a3b21"
NOW = "2026-11-22T10:00:00.000Z"
REQUEST = PlaceOrderRequest.model_validate(
    {
        "customerId": "customer-0001",
        "lines": [
            {"sku": "BOOK-0001", "quantity": 2, "unitPriceCents": 1250},
            {"sku": "MUG-0042", "quantity": 1, "unitPriceCents": 899},
        ],
        "currency": "EUR",
        "paymentToken": "tok_visa",
    }
)


def now() -> str:
    return NOW


# -- orders_api: place and read --------------------------------------------------------------------


class FakeOrders:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def create(self, order: NewOrder) -> None:
        assert order.order_id not in self.items
        self.items[order.order_id] = {
            "orderId": order.order_id,
            "customerId": order.request.customerId,
            "status": "PENDING",
            "paymentToken": order.request.paymentToken,
            "totalCents": order.total_cents,
            "createdAt": order.created_at,
        }

    def mark_failed(self, order_id: str, *, reason: str, at: str) -> None:
        self.items[order_id].update(status="FAILED", reason=reason, updatedAt=at)

    def get(self, order_id: str) -> dict[str, Any] | None:
        return self.items.get(order_id)


class FakePublisher:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.published: list[Any] = []

    def publish(self, *details: Any) -> None:
        if self.fail:
            raise PublishFailed("1 of 1 events not published: InternalFailure")
        self.published.extend(details)


def test_placing_an_order_stores_it_pending_and_publishes_order_placed() -> None:
    # Given an empty store and a working publisher
    orders, publisher = FakeOrders(), FakePublisher()
    # When an order is placed
    result = place_order(REQUEST, orders=orders, publisher=publisher, new_id=lambda: ORDER_ID, now=now)
    # Then it is stored PENDING, and OrderPlaced carries the order with its total
    assert result == {"orderId": ORDER_ID, "status": "PENDING"}
    assert orders.items[ORDER_ID]["status"] == "PENDING"
    [event] = publisher.published
    assert isinstance(event, OrderPlaced)
    assert (event.orderId, event.totalCents, event.placedAt, event.paymentToken) == (
        ORDER_ID,
        3399,
        NOW,
        "tok_visa",
    )


def test_an_order_whose_event_cannot_be_published_is_marked_failed_and_not_acknowledged() -> None:
    # Given a publisher that keeps failing
    orders = FakeOrders()
    # When an order is placed
    with pytest.raises(OrderNotPublished) as error:
        place_order(REQUEST, orders=orders, publisher=FakePublisher(fail=True), new_id=lambda: ORDER_ID)
    # Then the order is FAILED with the reason, and the error names it
    assert orders.items[ORDER_ID]["status"] == "FAILED"
    assert orders.items[ORDER_ID]["reason"] == "could not publish OrderPlaced"
    assert error.value.order_id == ORDER_ID


def test_reading_an_order_never_shows_the_payment_token() -> None:
    orders = FakeOrders()
    place_order(REQUEST, orders=orders, publisher=FakePublisher(), new_id=lambda: ORDER_ID, now=now)
    view = get_order(ORDER_ID, orders=orders)
    assert view is not None and "paymentToken" not in view
    assert view["status"] == "PENDING" and view["reason"] is None


@pytest.mark.parametrize("order_id", [OTHER_ID, "not-an-id", "../etc/passwd", ORDER_ID.upper()])
def test_an_unknown_or_malformed_order_id_is_not_found(order_id: str) -> None:
    assert get_order(order_id, orders=FakeOrders()) is None


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
