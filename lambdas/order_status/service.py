"""Publishes an order's status change to its topic; no AWS here, only the StatusPublisher port."""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias

from pydantic import ValidationError

from shared.contracts.envelope import EventBridgeEvent
from shared.contracts.orders import OrderStatusChanged
from shared.validation import describe

StatusChangedEvent: TypeAlias = EventBridgeEvent[OrderStatusChanged]


class InvalidStatusEvent(ValueError):
    """The event breaks the OrderStatusChanged contract; the message says which event and how."""


class StatusPublisher(Protocol):
    def publish(self, topic: str, payload: str) -> None:
        """Publishes the payload to the topic (QoS 1)."""
        ...


def topic_for(order_id: str) -> str:
    # The contract makes orderId a UUID: no `/`, `+` or `#` can reach the topic name.
    return f"orders/{order_id}/status"


def parse_event(event: Any) -> StatusChangedEvent:
    try:
        return StatusChangedEvent.model_validate(event)
    except ValidationError as error:
        event_id = event.get("id") if isinstance(event, dict) else None
        problems = describe(error)  # fields and rules only, never the values given
        # Not chained: pydantic's own message, in a logged traceback, would repeat the input.
        raise InvalidStatusEvent(f"OrderStatusChanged event {event_id} is invalid: {problems}") from None


def publish_status(change: OrderStatusChanged, *, publisher: StatusPublisher) -> str:
    """Publishes the detail as JSON to `orders/{orderId}/status`; returns the topic."""
    topic = topic_for(change.orderId)
    publisher.publish(topic, change.model_dump_json())
    return topic
