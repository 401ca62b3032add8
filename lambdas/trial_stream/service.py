"""Stream records to trial events, published in PutEvents batches of 10; no AWS here, only two ports."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from pydantic import ValidationError

from shared.contracts.trials import TrialEvent, TrialExpired, TrialNeedsAttention, TrialRequested
from shared.validation import describe

MAX_ENTRIES_PER_PUT = 10  # PutEvents' limit per request
PUBLISH_ATTEMPTS = 3
RETRY_DELAY_SECONDS = 0.2  # doubled per attempt: 0.2 s, then 0.4 s
TTL_PRINCIPAL = "dynamodb.amazonaws.com"
DETAIL_ATTRIBUTES = ("trialId", "leadId", "type", "requestedAt")
NEEDS_ATTENTION = "NEEDS_ATTENTION"

Entry = dict[str, str]


class EventPublisher(Protocol):
    """PutEvents: one result per entry, in order: None when accepted, else the error."""

    def put_events(self, entries: Sequence[Entry]) -> list[str | None]: ...


class ParkingLot(Protocol):
    """Where records that can never become an event go, with the reason, for an operator to read."""

    def park(self, reason: str, record: Mapping[str, Any]) -> None: ...


class MalformedRecord(ValueError):
    """The record's image does not make a valid trial event; the message says why."""


@dataclass(frozen=True)
class BatchOutcome:
    """What became of a batch of stream records."""

    published: int = 0
    parked: int = 0
    ignored: int = 0
    # SequenceNumber -> why the record is not done; these, and only these, are reported to Lambda.
    failed: dict[str, str] = field(default_factory=dict)


def is_ttl_removal(record: Mapping[str, Any]) -> bool:
    """A REMOVE made by DynamoDB's TTL process: the service identity, not a caller's DeleteItem."""
    identity = record.get("userIdentity") or {}
    return (
        record.get("eventName") == "REMOVE"
        and identity.get("type") == "Service"
        and identity.get("principalId") == TTL_PRINCIPAL
    )


def is_move_to_needs_attention(record: Mapping[str, Any]) -> bool:
    """A MODIFY whose new status is NEEDS_ATTENTION and whose old one was not: the sweep's conditional
    write, seen once; a later change to a row already NEEDS_ATTENTION is no new event."""
    if record.get("eventName") != "MODIFY":
        return False
    images = record.get("dynamodb") or {}
    return _status(images.get("NewImage")) == NEEDS_ATTENTION and _status(images.get("OldImage")) != (
        NEEDS_ATTENTION
    )


def event_for(record: Mapping[str, Any]) -> TrialEvent | None:
    """The event a record stands for: INSERT -> TrialRequested, MODIFY to NEEDS_ATTENTION ->
    TrialNeedsAttention, TTL REMOVE -> TrialExpired, else None.

    The event source mapping filters on the same conditions; this does not rely on it.
    """
    if record.get("eventName") == "INSERT":
        return _from_image(TrialRequested, record, "NewImage")
    if is_move_to_needs_attention(record):
        old = (record.get("dynamodb") or {}).get("OldImage")
        if not isinstance(old, dict) or not old:
            raise MalformedRecord("MODIFY record has no OldImage")
        return _from_image(
            TrialNeedsAttention,
            record,
            "NewImage",
            reason=_plain(record["dynamodb"]["NewImage"].get("reason")),
            previousStatus=_status(old),
        )
    if is_ttl_removal(record):
        return _from_image(TrialExpired, record, "OldImage")
    return None


def entry_for(event: TrialEvent, *, bus_name: str) -> Entry:
    """The PutEvents entry of an event: source, DetailType and the detail serialized from the contract."""
    return {
        "Source": event.SOURCE,
        "DetailType": event.DETAIL_TYPE,
        "Detail": event.model_dump_json(),
        "EventBusName": bus_name,
    }


def handle_records(
    records: Sequence[Mapping[str, Any]],
    *,
    bus_name: str,
    publisher: EventPublisher,
    parking: ParkingLot,
    attempts: int = PUBLISH_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchOutcome:
    """Maps every record, parks the malformed ones, publishes the rest in batches; reports what failed."""
    entries: dict[str, Entry] = {}
    failed: dict[str, str] = {}
    parked = ignored = 0
    for record in records:
        sequence_number = _sequence_number(record)
        try:
            event = event_for(record)
        except MalformedRecord as error:
            try:
                parking.park(str(error), record)
            except Exception as park_error:  # any failure: the record must stay in the stream, not vanish
                failed[sequence_number] = f"could not park a malformed record ({error}): {park_error!r}"
            else:
                parked += 1
            continue
        if event is None:
            ignored += 1
            continue
        entries[sequence_number] = entry_for(event, bus_name=bus_name)
    unpublished = publish(entries, publisher=publisher, attempts=attempts, sleep=sleep)
    failed.update(unpublished)
    return BatchOutcome(
        published=len(entries) - len(unpublished), parked=parked, ignored=ignored, failed=failed
    )


def publish(
    entries: Mapping[str, Entry],
    *,
    publisher: EventPublisher,
    attempts: int = PUBLISH_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """Puts the entries 10 per request, retrying only the failed ones; returns key -> last error of those
    still failing after `attempts` rounds."""
    pending = list(entries.items())
    errors: dict[str, str] = {}
    for attempt in range(attempts):
        if attempt:
            sleep(RETRY_DELAY_SECONDS * 2 ** (attempt - 1))
        still_failing: list[tuple[str, Entry]] = []
        for chunk in _chunks(pending, MAX_ENTRIES_PER_PUT):
            results = publisher.put_events([entry for _, entry in chunk])
            for (key, entry), error in zip(chunk, results, strict=True):
                if error is None:
                    errors.pop(key, None)
                else:
                    errors[key] = error
                    still_failing.append((key, entry))
        pending = still_failing
        if not pending:
            break
    return {key: f"not published after {attempts} attempts: {errors[key]}" for key, _ in pending}


def _from_image(
    model: type[TrialEvent], record: Mapping[str, Any], image_key: str, **extra: Any
) -> TrialEvent:
    image = (record.get("dynamodb") or {}).get(image_key)
    if not isinstance(image, dict) or not image:
        raise MalformedRecord(f"{record.get('eventName')} record has no {image_key}")
    detail = {name: _plain(image[name]) for name in DETAIL_ATTRIBUTES if name in image}
    # A missing extra attribute is left out, for the contract to name it as missing.
    detail.update({name: value for name, value in extra.items() if value is not None})
    try:
        # The status and version are the event's own, whatever the row says: an INSERT is a request.
        return model.model_validate({"version": "1.0", **detail, "status": model.STATUS})
    except ValidationError as error:
        problems = describe(error, root="detail")
        raise MalformedRecord(f"{image_key} is not a valid {model.DETAIL_TYPE}: {problems}") from error


def _plain(value: Any) -> Any:
    """A DynamoDB attribute value as the contract expects it: S -> str, an integral N -> int.

    Anything else is handed over as it is, for the contract to reject with a readable message.
    """
    if isinstance(value, dict) and len(value) == 1:
        [(kind, raw)] = value.items()
        if kind == "S":
            return raw
        if kind == "N":
            try:
                number = Decimal(raw)
            except (InvalidOperation, TypeError):
                return raw
            return int(number) if number.is_finite() and number == number.to_integral_value() else raw
    return value


def _status(image: Any) -> Any:
    """The image's status as plain text, or None when the image or its status is missing."""
    if not isinstance(image, dict) or "status" not in image:
        return None
    return _plain(image["status"])


def _sequence_number(record: Mapping[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


def _chunks(items: list[tuple[str, Entry]], size: int) -> Iterator[list[tuple[str, Entry]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
