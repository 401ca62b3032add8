"""The trials-table stream handler against moto: events on the bus, partial failures, parked records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.handlers.conftest import FakeContext, load_handler
from tests.handlers.logs import correlation_ids, log_lines

BUS = "app-bus"
TRIAL_ID = "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c"
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/trials/stream/2026-11-24T00:00:00.000"


@pytest.fixture
def queues(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    # Given the app's bus with a rule that copies every OnlineTrial event to a queue we can read,
    # and the queue where malformed records are parked
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=BUS)
    seen = sqs.create_queue(QueueName="seen")["QueueUrl"]
    seen_arn = sqs.get_queue_attributes(QueueUrl=seen, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all-trial-events", EventBusName=BUS, EventPattern='{"source": ["OnlineTrial"]}')
    events.put_targets(Rule="all-trial-events", EventBusName=BUS, Targets=[{"Id": "seen", "Arn": seen_arn}])
    parked = sqs.create_queue(QueueName="parked")["QueueUrl"]
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    monkeypatch.setenv("PARKED_QUEUE_URL", parked)
    return {"seen": seen, "parked": parked}


@pytest.fixture
def handler(queues: dict[str, str]) -> ModuleType:
    return load_handler("trial_stream.handler")


def image(trial_id: str = TRIAL_ID, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "trialId": {"S": trial_id},
        "leadId": {"S": "lead-0042"},
        "type": {"S": "ACS"},
        "requestedAt": {"N": "1795514400"},
        "status": {"S": "REQUESTED"},
        "expiresAt": {"N": "1795518000"},
    }
    return {key: value for key, value in {**base, **changes}.items() if value is not None}


def record(
    event_name: str,
    sequence: str,
    *,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    identity: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A DynamoDB stream record as Lambda delivers it."""
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1795514400,
        "Keys": {"trialId": (new or old or {"trialId": {"S": TRIAL_ID}})["trialId"]},
        "SequenceNumber": sequence,
        "SizeBytes": 120,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        dynamodb["NewImage"] = new
    if old is not None:
        dynamodb["OldImage"] = old
    body: dict[str, Any] = {
        "eventID": f"event-{sequence}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
        "eventSourceARN": STREAM_ARN,
    }
    if identity is not None:
        body["userIdentity"] = identity
    return body


def trial_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def invoke(handler: ModuleType, records: list[dict[str, Any]]) -> dict[str, Any]:
    return handler.lambda_handler({"Records": records}, FakeContext(function_name="trial-stream"))


def drain(queue_url: str) -> list[dict[str, Any]]:
    sqs, bodies = boto3.client("sqs"), list[dict[str, Any]]()
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def test_an_insert_publishes_trial_requested(handler: ModuleType, queues: dict[str, str]) -> None:
    # When the stream delivers the INSERT of a trial row
    result = invoke(handler, [record("INSERT", "101", new=image())])
    # Then TrialRequested with exactly the contract's detail is on the bus, and nothing failed
    assert result == {"batchItemFailures": []}
    [event] = drain(queues["seen"])
    assert (event["source"], event["detail-type"]) == ("OnlineTrial", "TrialRequested")
    assert event["detail"] == {
        "version": "1.0",
        "trialId": TRIAL_ID,
        "leadId": "lead-0042",
        "type": "ACS",
        "requestedAt": 1795514400,
        "status": "REQUESTED",
    }


def test_a_ttl_removal_publishes_trial_expired(handler: ModuleType, queues: dict[str, str]) -> None:
    result = invoke(handler, [record("REMOVE", "102", old=image(), identity=TTL_IDENTITY)])
    assert result == {"batchItemFailures": []}
    [event] = drain(queues["seen"])
    assert event["detail-type"] == "TrialExpired"
    assert (event["detail"]["trialId"], event["detail"]["status"]) == (TRIAL_ID, "EXPIRED")


def test_the_sweeps_move_to_needs_attention_publishes_trial_needs_attention(
    handler: ModuleType, queues: dict[str, str]
) -> None:
    # Given the MODIFY of the stuck-trial sweep's conditional write, REQUESTED -> NEEDS_ATTENTION
    reason = "still REQUESTED 2700 s after the request"
    swept = image(status={"S": "NEEDS_ATTENTION"}, reason={"S": reason})
    # When the stream delivers it
    result = invoke(handler, [record("MODIFY", "105", new=swept, old=image())])
    # Then TrialNeedsAttention with the trial, why, and the status it left is on the bus
    assert result == {"batchItemFailures": []}
    [event] = drain(queues["seen"])
    assert (event["source"], event["detail-type"]) == ("OnlineTrial", "TrialNeedsAttention")
    assert event["detail"] == {
        "version": "1.0",
        "trialId": TRIAL_ID,
        "leadId": "lead-0042",
        "type": "ACS",
        "requestedAt": 1795514400,
        "status": "NEEDS_ATTENTION",
        "reason": reason,
        "previousStatus": "REQUESTED",
    }
    assert drain(queues["parked"]) == []


def test_a_user_removal_or_a_modification_publishes_nothing(
    handler: ModuleType, queues: dict[str, str]
) -> None:
    # Given records the filter criteria should have dropped: a DeleteItem by a caller, and a MODIFY
    records = [
        record("REMOVE", "103", old=image()),
        record("MODIFY", "104", new=image(status={"S": "FAILED"}), old=image()),
        record(
            "MODIFY",
            "106",
            new=image(status={"S": "FAILED"}),
            old=image(status={"S": "NEEDS_ATTENTION"}, reason={"S": "stuck"}),
        ),
    ]
    # When they reach the function anyway
    result = invoke(handler, records)
    # Then no event is published and nothing fails or is parked
    assert result == {"batchItemFailures": []}
    assert drain(queues["seen"]) == []
    assert drain(queues["parked"]) == []


def test_25_records_take_3_put_events_calls(handler: ModuleType, queues: dict[str, str]) -> None:
    # Given a count of the PutEvents requests the function makes
    sizes: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        sizes.append(len(params["Entries"]))

    handler.session.events.register("before-parameter-build.events.PutEvents", count)
    # When a batch of 25 INSERT records arrives
    result = invoke(handler, [record("INSERT", str(200 + n), new=image(trial_id(n))) for n in range(25)])
    # Then 3 requests (10 + 10 + 5) published all 25 events
    assert result == {"batchItemFailures": []}
    assert sizes == [10, 10, 5]
    assert sorted(e["detail"]["trialId"] for e in drain(queues["seen"])) == [trial_id(n) for n in range(25)]


class RejectsOneTrial:
    """An events client that passes every entry to moto except one trial's, which it always rejects."""

    def __init__(self, client: Any, rejected: str) -> None:
        self._client, self._rejected = client, rejected
        self.calls = 0

    def put_events(self, Entries: Sequence[dict[str, str]]) -> dict[str, Any]:
        self.calls += 1
        passed = [e for e in Entries if self._rejected not in e["Detail"]]
        results = iter(self._client.put_events(Entries=passed)["Entries"] if passed else [])
        return {
            "Entries": [
                {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
                if self._rejected in entry["Detail"]
                else next(results)
                for entry in Entries
            ]
        }


def publisher_over(handler: ModuleType, client: Any) -> Any:
    """The handler's own publisher (shared.eventbus, 3 attempts) over another client, without pauses."""
    from shared.eventbus import EventBridgePublisher

    return EventBridgePublisher(
        client, bus_name=handler.settings.event_bus_name, attempts=3, sleep=lambda seconds: None
    )


def test_an_entry_that_keeps_failing_is_the_only_batch_item_failure(
    handler: ModuleType, queues: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given PutEvents rejects trial 1's entry every time
    client = RejectsOneTrial(boto3.client("events"), trial_id(1))
    monkeypatch.setattr(handler, "publisher", lambda: publisher_over(handler, client))
    # When a batch of three INSERTs arrives
    result = invoke(handler, [record("INSERT", str(300 + n), new=image(trial_id(n))) for n in range(3)])
    # Then only its record is reported, after 3 attempts, and the other two events are on the bus
    assert result == {"batchItemFailures": [{"itemIdentifier": "301"}]}
    assert client.calls == 3
    assert sorted(e["detail"]["trialId"] for e in drain(queues["seen"])) == [trial_id(0), trial_id(2)]


def test_a_batch_whose_every_record_failed_raises_so_lambda_retries_it(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = RejectsOneTrial(boto3.client("events"), TRIAL_ID)
    monkeypatch.setattr(handler, "publisher", lambda: publisher_over(handler, client))
    with pytest.raises(BatchProcessingError):
        invoke(handler, [record("INSERT", "401", new=image())])


def test_a_malformed_record_is_parked_with_its_reason_and_does_not_fail(
    handler: ModuleType, queues: dict[str, str]
) -> None:
    # Given an INSERT whose image has no leadId, next to a good one
    bad = record("INSERT", "501", new=image(trial_id(9), leadId=None))
    # When the batch arrives
    result = invoke(handler, [bad, record("INSERT", "502", new=image())])
    # Then the malformed record is in the parked queue, whole, with the reason; it is not a failure
    assert result == {"batchItemFailures": []}
    [parked] = drain(queues["parked"])
    assert parked["record"] == bad
    assert "leadId" in parked["reason"] and "TrialRequested" in parked["reason"]
    # And the good record's event was published
    assert [e["detail"]["trialId"] for e in drain(queues["seen"])] == [TRIAL_ID]


def test_each_records_line_carries_its_trial_id(handler: ModuleType, queues: dict[str, str]) -> None:
    # When one batch holds the INSERTs of two trials
    with log_lines(handler.logger) as lines:
        invoke(
            handler,
            [
                record("INSERT", "201", new=image(trial_id(1))),
                record("INSERT", "202", new=image(trial_id(2))),
            ],
        )
    # Then each record's line carries its own trial's id
    done = [line for line in lines if line["message"] == "Record done"]
    assert correlation_ids(done) == [trial_id(1), trial_id(2)]
