"""The EventPublisher port and its EventBridge adapter: a result per entry, retrying only what may succeed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from shared.aws_errors import TRANSIENT, error_code

MAX_ENTRIES = 10  # PutEvents' limit per request

# A request whose answer never came (timeout, dropped connection): its events may be on the bus or not.
UNANSWERED = "Unanswered"
# EventBridge could not be reached: nothing was sent, sending again may succeed.
UNREACHABLE = "Unreachable"
# A request that failed before EventBridge saw it (no credentials, a bad parameter, ...).
NOT_SENT = "NotSent"


class EventContract(Protocol):
    """A contract model instance: its class names the source and DetailType, it serializes itself."""

    SOURCE: ClassVar[str]
    DETAIL_TYPE: ClassVar[str]

    def model_dump_json(self) -> str: ...


@dataclass(frozen=True)
class EntryResult:
    """What became of one event: its id once on the bus, else the error code (and EventBridge's message,
    which names the entry's problem, never its content)."""

    detail_type: str
    event_id: str | None = None
    error_code: str | None = None
    error_message: str = ""

    @property
    def published(self) -> bool:
        return self.event_id is not None

    @property
    def retryable(self) -> bool:
        """Sending it again may succeed (throttled, EventBridge's internal failure, no answer)."""
        return self.error_code in TRANSIENT or self.error_code in (UNANSWERED, UNREACHABLE)

    @property
    def ambiguous(self) -> bool:
        """No answer came: the event may already be on the bus, so a retry may publish it twice."""
        return self.error_code == UNANSWERED


class PublishFailed(RuntimeError):
    """Some events could not be published, even after retrying them; the message says which and why."""

    def __init__(self, message: str, results: list[EntryResult] | None = None) -> None:
        super().__init__(message)
        self.results = results or []


class EventPublisher(Protocol):
    """Publishes events, all of them or raises PublishFailed."""

    def publish(self, *details: EventContract) -> None: ...


class EventBridgePublisher:
    """PutEvents to one bus. `put` returns one EntryResult per event, in order, after retrying just the
    entries that may still succeed, with a short exponential back-off (the SDK's own retries already
    cover throttled or failed requests). `publish` is `put` that raises unless every event is on the bus."""

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
        self._attempts_made = 0

    def publish(self, *details: EventContract) -> None:
        results = self.put(*details)
        failed = [r for r in results if not r.published]
        if failed:
            reasons = "; ".join(f"{r.detail_type}: {r.error_code} {r.error_message}".strip() for r in failed)
            raise PublishFailed(
                f"{len(failed)} of {len(details)} events not published to {self._bus_name} "
                f"after {self._attempts_made} attempts: {reasons}",
                results,
            )

    def put(self, *details: EventContract) -> list[EntryResult]:
        if not 1 <= len(details) <= MAX_ENTRIES:
            raise ValueError(f"publish takes 1 to {MAX_ENTRIES} events, got {len(details)}")
        entries = [
            {
                "Source": detail.SOURCE,
                "DetailType": detail.DETAIL_TYPE,
                "Detail": detail.model_dump_json(),
                "EventBusName": self._bus_name,
            }
            for detail in details
        ]
        results: list[EntryResult | None] = [None] * len(entries)
        pending = list(range(len(entries)))
        self._attempts_made = 0
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1))
            self._attempts_made += 1
            answered = self._send([entries[i] for i in pending])
            for index, result in zip(pending, answered, strict=True):
                results[index] = result
            pending = [i for i in pending if (r := results[i]) is not None and r.retryable]
            if not pending:
                break
        return [r for r in results if r is not None]

    def _send(self, entries: list[dict[str, str]]) -> list[EntryResult]:
        types = [entry["DetailType"] for entry in entries]
        try:
            response = self._client.put_events(Entries=entries)
        except ClientError as error:  # the whole request failed: every entry with the request's code
            code = error_code(error)
            return [EntryResult(t, error_code=code, error_message=_message(error)) for t in types]
        except (EndpointConnectionError, ConnectTimeoutError) as error:
            return [EntryResult(t, error_code=UNREACHABLE, error_message=type(error).__name__) for t in types]
        except (ReadTimeoutError, ConnectionError) as error:
            return [EntryResult(t, error_code=UNANSWERED, error_message=type(error).__name__) for t in types]
        except BotoCoreError as error:
            return [EntryResult(t, error_code=NOT_SENT, error_message=type(error).__name__) for t in types]
        # Entries come back in request order; a failed one carries an ErrorCode instead of an EventId.
        return [
            EntryResult(t, event_id=r.get("EventId"))
            if not r.get("ErrorCode")
            else EntryResult(t, error_code=str(r["ErrorCode"]), error_message=str(r.get("ErrorMessage", "")))
            for t, r in zip(types, response["Entries"], strict=True)
        ]


def _message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))
