"""The outbox's ports on AWS: stream record images as plain values, and EventBridge PutEvents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.dynamodb import from_item
from shared.eventbus import EventBridgePublisher


def images_of(record: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A stream record's (OldImage, NewImage) as plain values (numbers as int); None where absent."""
    change = record.get("dynamodb") or {}
    old, new = change.get("OldImage"), change.get("NewImage")
    return (from_item(old) if old else None, from_item(new) if new else None)


def event_bridge_publisher(client: Any, *, bus_name: str) -> EventBridgePublisher:
    """The shared publisher: PutEvents to the app's bus, retrying just the entries that failed."""
    return EventBridgePublisher(client, bus_name=bus_name)
