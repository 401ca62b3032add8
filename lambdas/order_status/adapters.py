"""The StatusPublisher adapter (IoT Core `Publish`) and how the function finds its data endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class IotStatusPublisher:
    """Publishes through the `iot-data` client, QoS 1 (at least once to subscribed clients)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def publish(self, topic: str, payload: str) -> None:
        self._client.publish(topic=topic, qos=1, payload=payload.encode())


def data_endpoint(
    *, configured: str | None, endpoint_url: str | None, describe: Callable[[], str]
) -> str | None:
    """The endpoint URL for the `iot-data` client, or None to let boto3 choose.

    An explicit IOT_DATA_ENDPOINT wins (with or without https://). With AWS_ENDPOINT_URL set (a local
    AWS), boto3 already points every client there. Otherwise the account's ATS endpoint is looked up:
    the generic data endpoint is not the account's.
    """
    if configured:
        return configured if "://" in configured else f"https://{configured}"
    if endpoint_url:
        return None
    return f"https://{describe()}"
