"""The EventPublisher port and its EventBridge adapter, which retries only the entries that failed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from botocore.exceptions import BotoCoreError, ClientError

MAX_ENTRIES = 10  # PutEvents' limit per request


class EventContract(Protocol):
    """A contract model instance: its class names the source and DetailType, it serializes itself."""

    SOURCE: ClassVar[str]
    DETAIL_TYPE: ClassVar[str]

    def model_dump_json(self) -> str: ...


class PublishFailed(RuntimeError):
    """Some events could not be published, even after retrying them; the message says which and why."""


class EventPublisher(Protocol):
    """Publishes events, all of them or raises PublishFailed."""

    def publish(self, *details: EventContract) -> None: ...


class EventBridgePublisher:
    """PutEvents to one bus. A partial failure (FailedEntryCount > 0) retries just the failed entries,
    with a short exponential back-off; the SDK's own retries already cover throttled or failed calls."""

    def __init__(
        self,
        client: Any,
        *,
        bus_name: str,
        attempts: int = 3,
        backoff_seconds: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._bus_name = bus_name
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep

    def publish(self, *details: EventContract) -> None:
        if not 1 <= len(details) <= MAX_ENTRIES:
            raise ValueError(f"publish takes 1 to {MAX_ENTRIES} events, got {len(details)}")
        pending = [
            {
                "Source": detail.SOURCE,
                "DetailType": detail.DETAIL_TYPE,
                "Detail": detail.model_dump_json(),
                "EventBusName": self._bus_name,
            }
            for detail in details
        ]
        errors: list[str] = []
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1))
            try:
                response = self._client.put_events(Entries=pending)
            except (BotoCoreError, ClientError) as error:
                raise PublishFailed(f"PutEvents to {self._bus_name} failed: {error}") from error
            if not response.get("FailedEntryCount"):
                return
            # Entries come back in request order; the failed ones carry an ErrorCode.
            failed = [
                (entry, result)
                for entry, result in zip(pending, response["Entries"], strict=True)
                if result.get("ErrorCode")
            ]
            pending = [entry for entry, _ in failed]
            errors = [
                f"{entry['DetailType']}: {result['ErrorCode']} {result.get('ErrorMessage', '')}".strip()
                for entry, result in failed
            ]
        raise PublishFailed(
            f"{len(pending)} of {len(details)} events not published to {self._bus_name} "
            f"after {self._attempts} attempts: {'; '.join(errors)}"
        )
