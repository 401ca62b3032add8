"""Stream records to trial events, published in PutEvents batches of 10; no AWS here, only two ports."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from pydantic import ValidationError

from shared.contracts.trials import TrialEvent, TrialExpired, TrialNeedsAttention, TrialRequested
from shared.eventbus import MAX_ENTRIES, EntryResult
from shared.validation import describe

# The publisher's own retries of the entries that may still succeed (shared.eventbus): 3 attempts,
# pausing 0.2 s, then 0.4 s.
PUBLISH_ATTEMPTS = 3
RETRY_DELAY_SECONDS = 0.2
TTL_PRINCIPAL = "dynamodb.amazonaws.com"
DETAIL_ATTRIBUTES = ("trialId", "leadId", "type", "requestedAt")
NEEDS_ATTENTION = "NEEDS_ATTENTION"


class EventPublisher(Protocol):
    """shared.eventbus' `put`: up to 10 events, one result per event, in order, after its own retries."""

    def put(self, *details: TrialEvent) -> list[EntryResult]: ...


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


def handle_records(
    records: Sequence[Mapping[str, Any]],
    *,
    publisher: EventPublisher,
    parking: ParkingLot,
) -> BatchOutcome:
    """Maps every record, parks the malformed ones, publishes the rest in batches; reports what failed."""
    events: dict[str, TrialEvent] = {}
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
        events[sequence_number] = event
    unpublished = publish(events, publisher=publisher)
    failed.update(unpublished)
    return BatchOutcome(
        published=len(events) - len(unpublished), parked=parked, ignored=ignored, failed=failed
    )


def publish(events: Mapping[str, TrialEvent], *, publisher: EventPublisher) -> dict[str, str]:
    """Puts the events 10 per request (the publisher retries the entries that may still succeed);
    returns key -> the last error of each event still not on the bus."""
    unpublished: dict[str, str] = {}
    for chunk in _chunks(list(events.items()), MAX_ENTRIES):
        results = publisher.put(*(event for _, event in chunk))
        for (key, _), result in zip(chunk, results, strict=True):
            if not result.published:
                unpublished[key] = f"not published: {result.error_code}: {result.error_message}"
    return unpublished


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
        # Not chained: pydantic's own message, in a logged traceback, would repeat the input.
        raise MalformedRecord(f"{image_key} is not a valid {model.DETAIL_TYPE}: {problems}") from None


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


def _chunks(items: list[tuple[str, TrialEvent]], size: int) -> Iterator[list[tuple[str, TrialEvent]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
