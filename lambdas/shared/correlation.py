"""Which field is a flow's correlation id: the order id, else the trial id, else the event's own id."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

# The ids that name a flow, in the order they are looked for. An event of the signup flow has
# neither: its own EventBridge id is the flow's id.
FLOW_ID_FIELDS = ("orderId", "trialId")

# JMESPath for Powertools' `inject_lambda_context(correlation_id_path=...)`.
# An EventBridge event (rule target): its detail's order or trial id, else the event id.
EVENTBRIDGE = " || ".join([*(f"detail.{name}" for name in FLOW_ID_FIELDS), "id"])
# A payload a workflow hands to a function (`{"action": ..., "orderId": ...}`).
WORKFLOW_PAYLOAD = " || ".join(FLOW_ID_FIELDS)


class CorrelatedLogger(Protocol):
    """The part of Powertools' Logger used here."""

    def get_correlation_id(self) -> str | None: ...

    def set_correlation_id(self, value: str | None) -> None: ...


def flow_id(item: Any) -> str | None:
    """The flow id a mapping names directly (`orderId`, then `trialId`), or None."""
    if not isinstance(item, Mapping):
        return None
    for name in FLOW_ID_FIELDS:
        value = item.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def event_flow_id(event: Any) -> str | None:
    """An EventBridge event's flow id: its detail's order or trial id, else the event's id."""
    if not isinstance(event, Mapping):
        return None
    found = flow_id(event.get("detail"))
    if found is not None:
        return found
    event_id = event.get("id")
    return event_id if isinstance(event_id, str) and event_id else None


def json_flow_id(text: Any) -> str | None:
    """The flow id of a JSON object in text (an SQS message body), or None if it is not one."""
    try:
        return flow_id(json.loads(text))
    except (TypeError, ValueError):
        return None


def stream_record_flow_id(record: Any) -> str | None:
    """A DynamoDB stream record's flow id, read from its new (else old) image without deserializing it."""
    change = record.get("dynamodb") if isinstance(record, Mapping) else None
    if not isinstance(change, Mapping):
        return None
    for image in (change.get("NewImage"), change.get("OldImage")):
        if isinstance(image, Mapping):
            found = flow_id({name: _string(image.get(name)) for name in FLOW_ID_FIELDS})
            if found is not None:
                return found
    return None


def _string(attribute: Any) -> str | None:
    """The value of a DynamoDB string attribute (`{"S": value}`), else None."""
    return attribute.get("S") if isinstance(attribute, Mapping) else None


@contextmanager
def correlated(logger: CorrelatedLogger, value: str | None) -> Iterator[None]:
    """Log lines inside carry `value` as correlation id; the one before comes back after (batch records)."""
    before = logger.get_correlation_id()
    logger.set_correlation_id(value)
    try:
        yield
    finally:
        logger.set_correlation_id(before)
