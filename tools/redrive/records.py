"""What a parked message is and what went wrong with it, read from its body and attributes (no AWS)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The four kinds of dead-letter queue the app has, by what parks messages in them.
QUEUE = "queue"  # an SQS queue's RedrivePolicy: the message as it was sent to the source queue
RULE = "rule"  # an EventBridge target's DeadLetterConfig: the event, the error in message attributes
ON_FAILURE = "onfailure"  # a function's async OnFailure destination: an invocation record with the event
STREAM = "stream"  # a stream mapping's OnFailure destination: a pointer to shard records, not the data
KINDS = (QUEUE, RULE, ON_FAILURE, STREAM)
QUEUE_ERROR = "maxReceiveCount reached (SQS records no error: see the consumer's log)"


@dataclass(frozen=True)
class Source:
    """What parks messages in a DLQ: a source queue, a rule's target, a function, a stream mapping."""

    kind: str
    name: str  # the source queue, `rule/target id`, the function, or the mapping's function
    arn: str  # the source queue, the rule, the function, or the stream
    detail: str = ""  # e.g. the target's ARN, maxReceiveCount, the mapping's UUID

    def describe(self) -> str:
        what = {
            QUEUE: "queue DLQ of",
            RULE: "rule DLQ of",
            ON_FAILURE: "OnFailure of",
            STREAM: "stream OnFailure of",
        }[self.kind]
        return f"{what} {self.name}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class DeadLetterQueue:
    """One DLQ of the app and everything that parks messages in it."""

    name: str
    url: str
    arn: str
    sources: list[Source] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """The kind of the DLQ; a DLQ the app shares between kinds (it does not) reads as the first."""
        return self.sources[0].kind

    def describe(self) -> str:
        return "; ".join(source.describe() for source in self.sources)


@dataclass(frozen=True)
class Parked:
    """One message in a DLQ, as received: the body, attributes, and how to give it back or delete it."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: dict[str, str]  # SQS's own (SentTimestamp, ApproximateReceiveCount...)
    message_attributes: dict[str, Any]  # the sender's, as ReceiveMessage returns them

    @classmethod
    def from_sqs(cls, message: dict[str, Any]) -> Parked:
        return cls(
            message_id=message["MessageId"],
            receipt_handle=message["ReceiptHandle"],
            body=message.get("Body", ""),
            attributes=dict(message.get("Attributes") or {}),
            message_attributes=dict(message.get("MessageAttributes") or {}),
        )

    def attribute(self, name: str) -> str | None:
        value = self.message_attributes.get(name)
        return None if value is None else str(value.get("StringValue", ""))

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def sent_at(self) -> float | None:
        """When the message was first sent (SQS keeps the original time through a redrive to the DLQ)."""
        sent = self.attributes.get("SentTimestamp")
        return int(sent) / 1000 if sent else None


def error_of(kind: str, message: Parked) -> str:
    """The error that parked a message, as one line an operator can group and filter on."""
    if kind == RULE:
        code = message.attribute("ERROR_CODE") or "(no ERROR_CODE)"
        text = message.attribute("ERROR_MESSAGE")
        return f"{code}: {text}" if text else code
    if kind in (ON_FAILURE, STREAM):
        record = message.json()
        if not isinstance(record, dict):
            return "(not an invocation record)"
        context = record.get("requestContext") or {}
        condition = str(context.get("condition") or "(no condition)")
        response = record.get("responsePayload")
        if isinstance(response, dict) and (response.get("errorType") or response.get("errorMessage")):
            return f"{condition} {response.get('errorType', '')}: {response.get('errorMessage', '')}".rstrip(
                ": "
            )
        function_error = (record.get("responseContext") or {}).get("functionError")
        return f"{condition} {function_error}" if function_error else condition
    # A queue's redrive records no error (the consumer's log has it), and the receive count includes
    # every read of the DLQ since, so it says nothing either.
    return QUEUE_ERROR


def matches(kind: str, message: Parked, wanted: str | None) -> bool:
    """`--error`: a substring (any case) of the error; for a queue DLQ, which records none, of the body."""
    if not wanted:
        return True
    needle = wanted.lower()
    if needle in error_of(kind, message).lower():
        return True
    return kind == QUEUE and needle in message.body.lower()


def error_counts(kind: str, messages: list[Parked]) -> list[tuple[str, int]]:
    """Errors by how often they occur, most frequent first (ties in name order)."""
    counts = Counter(error_of(kind, message) for message in messages)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def oldest_age(messages: list[Parked], now: float) -> float | None:
    """Seconds since the oldest message was sent, or None if there are none."""
    times = [sent for message in messages if (sent := message.sent_at) is not None]
    return now - min(times) if times else None


# -- what a redrive sends back ----------------------------------------------------------------------


class NotRedrivable(ValueError):
    """A parked message that cannot be returned from what it holds; the message says why."""


def unqualified(function_arn: str) -> str:
    """`arn:...:function:name:$LATEST` -> `arn:...:function:name`: the function the record names."""
    parts = function_arn.split(":")
    return ":".join(parts[:7]) if len(parts) > 7 else function_arn


def invocation(message: Parked) -> tuple[str, str]:
    """The function and the original event (JSON) of an async OnFailure record."""
    record = message.json()
    if not isinstance(record, dict) or "requestPayload" not in record:
        raise NotRedrivable("not an async invocation record (no requestPayload)")
    function_arn = (record.get("requestContext") or {}).get("functionArn")
    if not function_arn:
        raise NotRedrivable("the record names no function (requestContext.functionArn)")
    return unqualified(str(function_arn)), json.dumps(record["requestPayload"])


def stream_pointer(message: Parked) -> str:
    """Where the records a stream mapping gave up on are: they are not in the message itself."""
    record = message.json()
    info = (record or {}).get("DDBStreamBatchInfo") or (record or {}).get("KinesisBatchInfo") or {}
    if not info:
        return "no batch info"
    return (
        f"shard {info.get('shardId')} sequence "
        f"{info.get('startSequenceNumber')}..{info.get('endSequenceNumber')} "
        f"({info.get('batchSize')} record(s), first at {info.get('approximateArrivalOfFirstRecord')})"
    )


def bus_of_rule(rule_arn: str) -> str:
    """The bus of a rule ARN: `rule/<bus>/<rule>` on a custom bus, `rule/<rule>` on the default bus."""
    resource = rule_arn.split(":", 5)[-1]
    parts = resource.split("/")
    if parts[0] != "rule" or len(parts) not in (2, 3):
        raise NotRedrivable(f"RULE_ARN is not a rule ARN: {rule_arn!r}")
    return parts[1] if len(parts) == 3 else "default"


def event_entry(message: Parked) -> dict[str, Any]:
    """The PutEvents entry that puts a rule DLQ's event back on the bus it was on, as it was."""
    event = message.json()
    if not isinstance(event, dict) or not {"source", "detail-type", "detail"} <= event.keys():
        raise NotRedrivable("the body is not an EventBridge event")
    rule_arn = message.attribute("RULE_ARN")
    if not rule_arn:
        raise NotRedrivable("no RULE_ARN attribute: which bus it was on is unknown")
    source = str(event["source"])
    if source.startswith("aws."):
        raise NotRedrivable(f"AWS reserves the source {source}: PutEvents cannot put it back")
    entry: dict[str, Any] = {
        "Source": source,
        "DetailType": str(event["detail-type"]),
        "Detail": json.dumps(event["detail"]),
        "Resources": list(event.get("resources") or []),
        "EventBusName": bus_of_rule(rule_arn),
    }
    if event.get("time"):
        entry["Time"] = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    return entry
