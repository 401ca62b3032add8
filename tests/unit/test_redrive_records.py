"""The redrive tool's reading of parked messages: errors, grouping, filters, what goes back (no AWS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tools.redrive.discovery import select
from tools.redrive.records import (
    ON_FAILURE,
    QUEUE,
    RULE,
    STREAM,
    DeadLetterQueue,
    NotRedrivable,
    Parked,
    Source,
    bus_of_rule,
    error_counts,
    error_of,
    event_entry,
    invocation,
    matches,
    oldest_age,
    stream_pointer,
)

ACCOUNT = "123456789012"
RULE_ON_BUS = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/App-bus/App-Orders-Route-1"
EVENT = {
    "version": "0",
    "id": "e-1",
    "source": "myapp.orders",
    "detail-type": "OrderPlaced",
    "time": "2026-12-01T05:00:00Z",
    "resources": ["arn:aws:s3:::x"],
    "detail": {"orderId": "o-1"},
}


def parked(body: Any, sent_ms: int = 0, **attributes: str) -> Parked:
    return Parked(
        message_id=f"m-{len(attributes)}-{sent_ms}",
        receipt_handle="r",
        body=body if isinstance(body, str) else json.dumps(body),
        attributes={"SentTimestamp": str(sent_ms)} if sent_ms else {},
        message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )


def rule_entry(code: str, message: str, rule_arn: str = RULE_ON_BUS, event: Any = None) -> Parked:
    return parked(event or EVENT, RULE_ARN=rule_arn, ERROR_CODE=code, ERROR_MESSAGE=message)


def on_failure(error_type: str, message: str, condition: str = "RetriesExhausted") -> Parked:
    return parked(
        {
            "requestContext": {
                "functionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:App-Accounting:$LATEST",
                "condition": condition,
                "approximateInvokeCount": 3,
            },
            "requestPayload": EVENT,
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "responsePayload": {"errorType": error_type, "errorMessage": message},
        }
    )


def test_the_errors_of_rule_and_on_failure_dlqs_are_grouped_most_frequent_first() -> None:
    # Given rule DLQ entries and OnFailure records with repeated errors
    rules = [rule_entry("Throttling", "Rate exceeded")] * 2 + [
        rule_entry("ResourceNotFoundException", "gone")
    ]
    failures = [on_failure("LedgerDown", "table busy"), on_failure("KeyError", "'x'", "EventAgeExceeded")]
    # When they are grouped, Then each error is counted, the most frequent first
    assert error_counts(RULE, rules) == [
        ("Throttling: Rate exceeded", 2),
        ("ResourceNotFoundException: gone", 1),
    ]
    assert error_counts(ON_FAILURE, failures) == [
        ("EventAgeExceeded KeyError: 'x'", 1),
        ("RetriesExhausted LedgerDown: table busy", 1),
    ]


def test_a_record_without_an_error_payload_still_names_its_condition() -> None:
    stream_record = parked(
        {
            "requestContext": {"condition": "RetryAttemptsExhausted"},
            "responseContext": {"functionError": "Unhandled"},
        }
    )
    assert error_of(STREAM, stream_record) == "RetryAttemptsExhausted Unhandled"
    assert error_of(ON_FAILURE, parked("not json")) == "(not an invocation record)"
    assert error_of(RULE, parked(EVENT)) == "(no ERROR_CODE)"


def test_the_error_filter_is_a_substring_of_the_error_in_any_case_and_of_the_body_for_queue_dlqs() -> None:
    throttled = rule_entry("ThrottlingException", "Rate exceeded")
    assert matches(RULE, throttled, "throttling") and matches(RULE, throttled, "rate EXCEEDED")
    assert not matches(RULE, throttled, "NotFound")
    assert matches(RULE, throttled, None) and matches(RULE, throttled, "")
    payment = parked({"orderId": "o-7", "paymentRef": "p-1"})
    assert matches(QUEUE, payment, "o-7") and not matches(QUEUE, payment, "o-8")
    assert not matches(RULE, rule_entry("X", "y"), "o-1")  # a rule entry's body is no error


def test_the_oldest_message_age_counts_from_its_first_send() -> None:
    messages = [parked("a", 1_000_000), parked("b", 4_000_000), parked("c")]
    assert oldest_age(messages, now=5_000.0) == pytest.approx(4_000.0)
    assert oldest_age([], now=1.0) is None


def test_a_rule_dlq_event_goes_back_as_it_was_onto_the_bus_of_its_rule() -> None:
    entry = event_entry(rule_entry("Throttling", "x"))
    assert entry == {
        "Source": "myapp.orders",
        "DetailType": "OrderPlaced",
        "Detail": json.dumps({"orderId": "o-1"}),
        "Resources": ["arn:aws:s3:::x"],
        "EventBusName": "App-bus",
        "Time": datetime(2026, 12, 1, 5, 0, tzinfo=UTC),
    }
    assert bus_of_rule(f"arn:aws:events:us-east-1:{ACCOUNT}:rule/App-Forward") == "default"


@pytest.mark.parametrize(
    ("message", "why"),
    [
        (rule_entry("X", "y", rule_arn="not-an-arn"), "RULE_ARN is not a rule ARN"),
        (parked(EVENT), "no RULE_ARN"),
        (rule_entry("X", "y", event={"hello": 1}), "not an EventBridge event"),
        (rule_entry("X", "y", event={**EVENT, "source": "aws.events"}), "AWS reserves the source aws.events"),
    ],
)
def test_a_rule_dlq_message_that_cannot_go_back_says_why(message: Parked, why: str) -> None:
    with pytest.raises(NotRedrivable, match=why):
        event_entry(message)


def test_an_on_failure_record_goes_back_to_its_function_unqualified_with_the_original_event() -> None:
    function, payload = invocation(on_failure("LedgerDown", "x"))
    assert function == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:App-Accounting"
    assert json.loads(payload) == EVENT
    with pytest.raises(NotRedrivable, match="requestPayload"):
        invocation(parked({"requestContext": {}}))


def test_a_stream_record_is_a_pointer_and_says_where_its_records_are() -> None:
    record = parked(
        {
            "requestContext": {"condition": "RetryAttemptsExhausted"},
            "DDBStreamBatchInfo": {
                "shardId": "shard-1",
                "startSequenceNumber": "100",
                "endSequenceNumber": "104",
                "batchSize": 5,
                "approximateArrivalOfFirstRecord": "2026-12-01T05:00:00Z",
            },
        }
    )
    assert (
        stream_pointer(record)
        == "shard shard-1 sequence 100..104 (5 record(s), first at 2026-12-01T05:00:00Z)"
    )


def test_queue_choice_by_kind_or_name_part() -> None:
    dlqs = [
        DeadLetterQueue(
            "App-Orders-PaymentDlq-1", "u1", "a1", [Source(QUEUE, "App-Orders-PaymentQueue-1", "s1")]
        ),
        DeadLetterQueue("App-Orders-RouteDlq-1", "u2", "a2", [Source(RULE, "App-Orders-Route/Target0", "r")]),
        DeadLetterQueue("App-Orders-Failures-1", "u3", "a3", [Source(ON_FAILURE, "App-Accounting", "f")]),
    ]
    assert [d.name for d in select(dlqs, "rule")] == ["App-Orders-RouteDlq-1"]
    assert [d.name for d in select(dlqs, "paymentdlq")] == ["App-Orders-PaymentDlq-1"]
    assert [d.name for d in select(dlqs, "Accounting")] == ["App-Orders-Failures-1"]  # by its source's name
    assert select(dlqs, None) == dlqs and select(dlqs, "all") == dlqs
    assert select(dlqs, "nothing-like-it") == []
