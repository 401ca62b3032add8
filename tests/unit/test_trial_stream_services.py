"""The trial stream's service with fakes for its ports: records to events, published in batches; no AWS.

Events go out through shared.eventbus' publisher, over a fake events client."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.contracts.trials import TrialExpired, TrialNeedsAttention, TrialRequested
from shared.eventbus import EventBridgePublisher
from trial_stream.service import MalformedRecord, event_for, handle_records, is_ttl_removal

TRIAL_ID = "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c"
OTHER_TRIAL = "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
REASON = "still REQUESTED 2700 s after the request"


# --- trial stream: records to events -------------------------------------------------------------


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
    *,
    sequence: str = "100",
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    identity: dict[str, str] | None = None,
) -> dict[str, Any]:
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1795514400,
        "Keys": {"trialId": (new or old or image())["trialId"]},
        "SequenceNumber": sequence,
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        dynamodb["NewImage"] = new
    if old is not None:
        dynamodb["OldImage"] = old
    body: dict[str, Any] = {"eventID": f"e-{sequence}", "eventName": event_name, "dynamodb": dynamodb}
    if identity is not None:
        body["userIdentity"] = identity
    return body


def test_an_insert_is_a_trial_requested_from_the_new_image() -> None:
    event = event_for(record("INSERT", new=image()))
    assert isinstance(event, TrialRequested)
    assert json.loads(event.model_dump_json()) == {
        "version": "1.0",
        "trialId": TRIAL_ID,
        "leadId": "lead-0042",
        "type": "ACS",
        "requestedAt": 1795514400,
        "status": "REQUESTED",
    }


def test_a_ttl_removal_is_a_trial_expired_from_the_old_image() -> None:
    # Given the REMOVE that DynamoDB's TTL process makes (service identity)
    given = record("REMOVE", old=image(), identity=TTL_IDENTITY)
    # Then it is recognised as such and becomes TrialExpired with status EXPIRED
    assert is_ttl_removal(given)
    event = event_for(given)
    assert isinstance(event, TrialExpired)
    assert (event.trialId, event.status) == (TRIAL_ID, "EXPIRED")


def swept(**changes: Any) -> dict[str, Any]:
    """The sweep's write as the stream sees it: REQUESTED -> NEEDS_ATTENTION with a reason."""
    new = image(**{"status": {"S": "NEEDS_ATTENTION"}, "reason": {"S": REASON}, **changes})
    return record("MODIFY", new=new, old=image())


def test_a_move_to_needs_attention_is_a_trial_needs_attention_with_the_reason_and_previous_status() -> None:
    # Given the MODIFY of the sweep's conditional write, REQUESTED -> NEEDS_ATTENTION
    # When it is mapped
    event = event_for(swept())
    # Then it is TrialNeedsAttention: the trial from the new image, why, and the status it left
    assert isinstance(event, TrialNeedsAttention)
    assert json.loads(event.model_dump_json()) == {
        "version": "1.0",
        "trialId": TRIAL_ID,
        "leadId": "lead-0042",
        "type": "ACS",
        "requestedAt": 1795514400,
        "status": "NEEDS_ATTENTION",
        "reason": REASON,
        "previousStatus": "REQUESTED",
    }


@pytest.mark.parametrize(
    "given",
    [
        record("REMOVE", old=image()),  # a caller's DeleteItem: no userIdentity
        record("REMOVE", old=image(), identity={"type": "Service", "principalId": "other.amazonaws.com"}),
        record("REMOVE", old=image(), identity={"type": "User", "principalId": "dynamodb.amazonaws.com"}),
        record("MODIFY", new=image(status={"S": "ASSIGNED"}), old=image()),
        record("MODIFY", new=image(), old=image(), identity=TTL_IDENTITY),
        record(
            "MODIFY",
            new=image(status={"S": "NEEDS_ATTENTION"}, reason={"S": "again"}),
            old=image(status={"S": "NEEDS_ATTENTION"}, reason={"S": REASON}),
        ),
        record("MODIFY", new=image(status={"S": "FAILED"}), old=image(status={"S": "NEEDS_ATTENTION"})),
        record("REMOVE", old=image(status={"S": "NEEDS_ATTENTION"}, reason={"S": REASON})),
    ],
    ids=[
        "user-remove",
        "other-service",
        "not-a-service",
        "modify",
        "modify-with-identity",
        "already-needs-attention",
        "needs-attention-to-failed",
        "user-remove-of-needs-attention",
    ],
)
def test_a_user_removal_or_a_modification_is_no_event(given: dict[str, Any]) -> None:
    assert event_for(given) is None


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        (record("INSERT", new=image(leadId=None)), "leadId: Field required"),
        (record("INSERT", new=image(requestedAt={"N": "1795514400.5"})), "requestedAt"),
        (record("INSERT", new=image(type={"S": "lower"})), "type"),
        (record("INSERT", new=image(trialId={"N": "42"})), "trialId"),
        (record("INSERT"), "no NewImage"),
        (record("REMOVE", identity=TTL_IDENTITY, new=image()), "no OldImage"),
        (swept(reason=None), "reason: Field required"),
        (swept(reason={"S": ""}), "reason"),
        (swept(leadId=None), "leadId: Field required"),
        (record("MODIFY", new=image(status={"S": "NEEDS_ATTENTION"}, reason={"S": REASON})), "no OldImage"),
    ],
)
def test_an_image_that_breaks_the_contract_is_malformed_with_the_reason(
    given: dict[str, Any], reason: str
) -> None:
    with pytest.raises(MalformedRecord) as error:
        event_for(given)
    assert reason in str(error.value)


# --- trial stream: publishing in batches of 10 ---------------------------------------------------


@dataclass
class FakeEvents:
    """An events client that fails the entries of the given trial ids, `times` times each."""

    failing: dict[str, int] = field(default_factory=dict)
    calls: list[list[dict[str, str]]] = field(default_factory=list)

    def put_events(self, Entries: Sequence[dict[str, str]]) -> dict[str, Any]:
        assert len(Entries) <= 10
        self.calls.append(list(Entries))
        results: list[dict[str, str]] = []
        for n, entry in enumerate(Entries):
            trial_id = json.loads(entry["Detail"])["trialId"]
            if self.failing.get(trial_id, 0) > 0:
                self.failing[trial_id] -= 1
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                results.append({"EventId": f"event-{len(self.calls)}-{n}"})
        return {"Entries": results}


def publisher_over(client: FakeEvents, slept: list[float] | None = None) -> EventBridgePublisher:
    """The shared publisher the handler uses: 3 attempts, pausing 0.2 s then 0.4 s."""
    pauses = [] if slept is None else slept
    return EventBridgePublisher(client, bus_name="bus", attempts=3, backoff_seconds=0.2, sleep=pauses.append)


@dataclass
class FakeParkingLot:
    broken: bool = False
    parked: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)

    def park(self, reason: str, record: Mapping[str, Any]) -> None:
        if self.broken:
            raise ConnectionError("SQS unreachable")
        self.parked.append((reason, record))


def trial_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def inserts(count: int) -> list[dict[str, Any]]:
    return [record("INSERT", sequence=str(1000 + n), new=image(trial_id(n))) for n in range(count)]


def test_25_records_are_published_in_3_put_events_calls_of_at_most_10() -> None:
    # Given 25 INSERT records
    events = FakeEvents()
    # When the batch is handled
    outcome = handle_records(inserts(25), publisher=publisher_over(events), parking=FakeParkingLot())
    # Then 3 calls of 10, 10 and 5 entries put all of them on the bus, and nothing failed
    assert [len(call) for call in events.calls] == [10, 10, 5]
    assert (outcome.published, outcome.failed) == (25, {})
    entry = events.calls[0][0]
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "OnlineTrial",
        "TrialRequested",
        "bus",
    )


def test_a_failed_entry_is_retried_alone_and_counts_as_published_once_accepted() -> None:
    # Given 12 records, one of whose entries PutEvents rejects once
    events = FakeEvents(failing={trial_id(3): 1})
    slept: list[float] = []
    # When the batch is handled
    outcome = handle_records(inserts(12), publisher=publisher_over(events, slept), parking=FakeParkingLot())
    # Then only that entry is sent again, after a short pause, and nothing is reported failed
    assert [len(call) for call in events.calls] == [10, 1, 2]
    assert json.loads(events.calls[1][0]["Detail"])["trialId"] == trial_id(3)
    assert slept == [0.2]
    assert (outcome.published, outcome.failed) == (12, {})


def test_an_entry_that_fails_3_times_is_reported_by_its_sequence_number_only() -> None:
    # Given records 0..4 where PutEvents always rejects trial 2's entry
    events = FakeEvents(failing={trial_id(2): 99})
    slept: list[float] = []
    # When the batch is handled
    outcome = handle_records(inserts(5), publisher=publisher_over(events, slept), parking=FakeParkingLot())
    # Then it was tried 3 times with growing pauses, and only its sequence number is failed, with the error
    assert [len(call) for call in events.calls] == [5, 1, 1]
    assert slept == [0.2, 0.4]
    assert list(outcome.failed) == ["1002"]
    assert "InternalFailure" in outcome.failed["1002"]
    assert outcome.published == 4


def test_a_malformed_record_is_parked_with_its_reason_and_is_not_a_failure() -> None:
    # Given a batch with a good INSERT, an INSERT without leadId, a MODIFY and a user REMOVE
    bad = record("INSERT", sequence="2", new=image(OTHER_TRIAL, leadId=None))
    records = [
        record("INSERT", sequence="1", new=image()),
        bad,
        record("MODIFY", sequence="3", new=image(), old=image()),
        record("REMOVE", sequence="4", old=image()),
    ]
    parking = FakeParkingLot()
    # When the batch is handled
    outcome = handle_records(records, publisher=publisher_over(FakeEvents()), parking=parking)
    # Then the malformed record is parked whole with why, the good one published, the others ignored
    [(reason, parked)] = parking.parked
    assert "leadId" in reason and parked == bad
    assert (outcome.published, outcome.parked, outcome.ignored, outcome.failed) == (1, 1, 2, {})


def test_needs_attention_is_published_in_the_batch_with_the_others() -> None:
    # Given a batch with an INSERT and the sweep's MODIFY of another trial
    records = [record("INSERT", sequence="1", new=image()), swept() | {"eventID": "e-2"}]
    records[1]["dynamodb"] = {**records[1]["dynamodb"], "SequenceNumber": "2"}
    events = FakeEvents()
    # When the batch is handled
    outcome = handle_records(records, publisher=publisher_over(events), parking=FakeParkingLot())
    # Then both are on the bus, the second as TrialNeedsAttention
    assert [(e["Source"], e["DetailType"]) for e in events.calls[0]] == [
        ("OnlineTrial", "TrialRequested"),
        ("OnlineTrial", "TrialNeedsAttention"),
    ]
    assert (outcome.published, outcome.failed) == (2, {})


def test_a_malformed_record_that_cannot_be_parked_is_a_failure_so_it_is_not_lost() -> None:
    bad = record("INSERT", sequence="7", new=image(leadId=None))
    outcome = handle_records(
        [bad], publisher=publisher_over(FakeEvents()), parking=FakeParkingLot(broken=True)
    )
    assert list(outcome.failed) == ["7"]
    assert "could not park" in outcome.failed["7"]
