"""The order flow's intake and status services and small adapters, with fakes: no AWS.

Inventory, payment and accounting have their own files (test_inventory_service.py, ...)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from order_status.adapters import data_endpoint
from order_status.service import InvalidStatusEvent, publish_status, topic_for
from order_status.service import parse_event as parse_status_event
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
    with pytest.raises(InvalidStatusEvent, match="evt-1") as error:
        parse_status_event(event)
    # And the reason names the field, not the value it was given
    assert "detail.orderId" in str(error.value) and "#" not in str(error.value)


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
