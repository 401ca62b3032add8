"""What Lambda hands a function from its event sources: SQS and DynamoDB stream records, and small helpers."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
from datetime import UTC, datetime
from typing import Any

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


def stream_event_record(stored: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A DynamoDB stream record as Lambda delivers it."""
    source = stored["dynamodb"]
    moment = source["ApproximateCreationDateTime"]
    if isinstance(moment, datetime):
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": int(moment),
        "Keys": copy.deepcopy(source["Keys"]),
    }
    for image in ("NewImage", "OldImage"):
        if image in source:
            dynamodb[image] = copy.deepcopy(source[image])
    dynamodb["SequenceNumber"] = source["SequenceNumber"]
    dynamodb["SizeBytes"] = source["SizeBytes"]
    dynamodb["StreamViewType"] = source["StreamViewType"]
    record: dict[str, Any] = {
        "eventID": stored["eventID"],
        "eventName": stored["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": stream_arn.split(":")[3],
        "dynamodb": dynamodb,
    }
    identity = stored.get("userIdentity")
    if identity:
        record["userIdentity"] = {"type": identity.get("Type"), "principalId": identity.get("PrincipalId")}
    record["eventSourceARN"] = stream_arn
    return record


def sqs_record(message: Any, queue: Any) -> dict[str, Any]:
    """An SQS message as Lambda delivers it."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": message.sender_id,
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    trace_header = (message.system_attributes or {}).get("AWSTraceHeader")
    if isinstance(trace_header, dict) and trace_header.get("StringValue"):
        attributes["AWSTraceHeader"] = trace_header["StringValue"]
    if queue.fifo_queue:
        if message.sequence_number is not None:
            attributes["SequenceNumber"] = message.sequence_number
        if message.group_id is not None:
            attributes["MessageGroupId"] = message.group_id
        if message.deduplication_id is not None:
            attributes["MessageDeduplicationId"] = message.deduplication_id
    record: dict[str, Any] = {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {
            name: message_attribute(value) for name, value in (message.message_attributes or {}).items()
        },
        "md5OfBody": message.body_md5,
    }
    if message.message_attributes:
        # moto cannot hash every binary form; the digest is informational.
        with contextlib.suppress(Exception):
            record["md5OfMessageAttributes"] = message.attribute_md5
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue.queue_arn
    record["awsRegion"] = queue.region
    return record


def message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if value.get("StringValue") is not None:
        attribute["stringValue"] = value["StringValue"]
    if value.get("BinaryValue") is not None:
        attribute["binaryValue"] = _base64(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = [_base64(item) for item in value.get("BinaryListValues") or []]
    attribute["dataType"] = value.get("DataType")
    return attribute


def _base64(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return str(value)  # the JSON and query protocols already carry base64 text


def sqs_filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """What an SQS filter pattern sees: a JSON object body is matched as JSON, anything else as text."""
    try:
        body = json.loads(record["body"])
    except ValueError:
        return record
    return {**record, "body": body} if isinstance(body, dict) else record


def item_failures(payload: Any, identifiers: list[str]) -> list[str] | None:
    """The reported `batchItemFailures` identifiers; None when the response is invalid (whole batch failed).

    AWS: no response, an empty one or a null/empty list is success; a response that is not an object,
    or an itemIdentifier that is missing, empty, null or not in the batch, fails the whole batch.
    """
    if payload is None or payload == "":
        return []
    if not isinstance(payload, dict):
        return None
    failures = payload.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return None
    known = set(identifiers)
    reported: list[str] = []
    for failure in failures:
        if not isinstance(failure, dict):
            return None
        identifier = failure.get("itemIdentifier")
        if not isinstance(identifier, str) or identifier not in known:
            return None
        if identifier not in reported:
            reported.append(identifier)
    return reported


def flag(value: Any) -> bool:
    """A boolean mapping setting, whether the API (a bool) or a template (maybe a string) gave it."""
    return value is True or str(value).lower() == "true"


def setting(value: Any, *, default: float | None) -> Any:
    """A MaximumRetryAttempts / MaximumRecordAgeInSeconds value; -1 or unset means the default."""
    if value is None or int(value) < 0:
        return default
    return int(value)


def iso(seconds: float, *, milliseconds: bool = False) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    text = moment.isoformat(timespec="milliseconds" if milliseconds else "seconds")
    return text.replace("+00:00", "Z")


def function_name(function_arn: str) -> str:
    parts = function_arn.split(":")
    return parts[6] if len(parts) > 6 else function_arn


def source_name(source_arn: str) -> str:
    resource = source_arn.split(":", 5)[-1]
    return resource.split("/")[1] if resource.startswith("table/") else resource


def error_text(error: dict[str, Any]) -> str:
    return f"{error.get('errorType', 'Error')}: {short(error.get('errorMessage'))}"


def short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
