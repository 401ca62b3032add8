"""The redrive movers against fake clients: what is sent, in which order, and what stays parked (no AWS)."""

from __future__ import annotations

import json
from typing import Any

from tools.redrive.movers import Options, Pacer, Redriver, describe
from tools.redrive.records import ON_FAILURE, QUEUE, RULE, STREAM, DeadLetterQueue, Source

ACCOUNT = "123456789012"
RULE_ARN = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/App-bus/App-Route"
EVENT = {"source": "myapp.orders", "detail-type": "OrderPlaced", "detail": {"orderId": "o-1"}, "time": ""}


class FakeSqs:
    """One DLQ's messages; records every call that changes something, in order."""

    def __init__(self, bodies: list[tuple[str, dict[str, str]]], task_status: str = "COMPLETED") -> None:
        self.messages = [
            {
                "MessageId": f"m{i}",
                "ReceiptHandle": f"h{i}",
                "Body": body,
                "Attributes": {"SentTimestamp": "1000"},
                "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()},
            }
            for i, (body, attrs) in enumerate(bodies)
        ]
        self.calls: list[tuple[str, Any]] = []
        self._served = False
        self._task_status = task_status

    def receive_message(self, **params: Any) -> dict[str, Any]:
        assert params["VisibilityTimeout"] > 0  # hidden while read, so one pass sees each once
        if self._served:
            return {}
        self._served = True
        return {"Messages": self.messages}

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += [("restore", entry["ReceiptHandle"]) for entry in Entries]
        assert {entry["VisibilityTimeout"] for entry in Entries} == {0}
        return {"Successful": Entries}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:
        self.calls.append(("delete", ReceiptHandle))

    def send_message(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("send", params))
        return {"MessageId": "new"}

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": f"https://sqs/{QueueName}"}

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": str(len(self.messages)),
                "ApproximateNumberOfMessagesNotVisible": "0",
            }
        }

    def start_message_move_task(self, **params: Any) -> dict[str, str]:
        self.calls.append(("move task", params))
        return {"TaskHandle": "t"}

    def list_message_move_tasks(self, **_: Any) -> dict[str, Any]:
        result = {
            "Status": self._task_status,
            "ApproximateNumberOfMessagesMoved": 2,
            "ApproximateNumberOfMessagesToMove": 2,
        }
        if self._task_status == "FAILED":
            result["FailureReason"] = "AccessDenied"
        return {"Results": [result]}


class FakeEvents:
    def __init__(self, fail_sources: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.entries: list[dict[str, Any]] = []
        self._fail = fail_sources

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries += Entries
        failed = [e for e in Entries if e["Source"] in self._fail]
        results = [
            {"ErrorCode": "AccessDeniedException", "ErrorMessage": "no"} if e in failed else {"EventId": "1"}
            for e in Entries
        ]
        return {"FailedEntryCount": len(failed), "Entries": results}


class FakeLambda:
    def __init__(self) -> None:
        self.invoked: list[tuple[str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, int]:
        assert InvocationType == "Event"
        self.invoked.append((FunctionName, json.loads(Payload)))
        return {"StatusCode": 202}


def dlq(kind: str) -> DeadLetterQueue:
    return DeadLetterQueue(
        f"App-{kind}-Dlq", "https://sqs/dlq", "arn:dlq", [Source(kind, "App-Source", "arn:source")]
    )


def redriver(sqs: FakeSqs, events: Any = None, lambda_: Any = None, **options: Any) -> Redriver:
    return Redriver(
        sqs, lambda_ or FakeLambda(), events or FakeEvents(), Options(**options), sleep=lambda _s: None
    )


def rule_message(code: str, source: str = "myapp.orders") -> tuple[str, dict[str, str]]:
    return json.dumps({**EVENT, "source": source}), {
        "RULE_ARN": RULE_ARN,
        "ERROR_CODE": code,
        "ERROR_MESSAGE": "x",
    }


def test_a_rule_dlq_entry_is_deleted_only_after_the_bus_accepted_it_and_a_refused_one_stays() -> None:
    # Given two parked events, one of which the bus will refuse
    sqs = FakeSqs([rule_message("Throttling"), rule_message("Throttling", source="myapp.payments")])
    events = FakeEvents(fail_sources={"myapp.payments"})
    # When the DLQ is redriven
    outcome = redriver(sqs, events).redrive(dlq(RULE))
    # Then the accepted one was put on its rule's bus, then deleted; the refused one is visible again
    assert [e["EventBusName"] for e in events.entries] == ["App-bus", "App-bus"]
    assert sqs.calls == [("delete", "h0"), ("restore", "h1")]
    assert outcome.moved == 1 and outcome.failed == 1 and "AccessDeniedException" in outcome.failures[0]
    assert (
        describe(outcome, dry_run=False)[0] == "App-rule-Dlq [rule]: moved 1, skipped 0 by filter, failed 1"
    )


def test_a_filtered_queue_dlq_redrive_sends_each_match_before_deleting_it_and_keeps_the_rest() -> None:
    sqs = FakeSqs([('{"orderId": "o-1"}', {"k": "v"}), ('{"orderId": "o-2"}', {})])
    outcome = redriver(sqs, error="o-1").redrive(dlq(QUEUE))
    [send, delete, restore] = sqs.calls
    assert send[0] == "send" and send[1]["QueueUrl"] == "https://sqs/App-Source"
    assert send[1]["MessageBody"] == '{"orderId": "o-1"}'
    assert send[1]["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    assert delete == ("delete", "h0") and restore == ("restore", "h1")
    assert (outcome.moved, outcome.skipped, outcome.failed) == (1, 1, 0)


def test_an_unfiltered_queue_dlq_redrive_is_one_sqs_move_task_to_its_source_at_the_rate() -> None:
    sqs = FakeSqs([("a", {}), ("b", {})])
    outcome = redriver(sqs, rate=2.5).redrive(dlq(QUEUE))
    assert sqs.calls == [
        (
            "move task",
            {"SourceArn": "arn:dlq", "DestinationArn": "arn:source", "MaxNumberOfMessagesPerSecond": 2},
        )
    ]
    assert outcome.moved == 2 and outcome.failed == 0


def test_a_failed_move_task_is_a_failure_with_its_reason() -> None:
    outcome = redriver(FakeSqs([("a", {})], task_status="FAILED")).redrive(dlq(QUEUE))
    assert outcome.failures == ["move task FAILED: AccessDenied"]


def test_an_on_failure_record_is_invoked_again_with_its_original_event() -> None:
    record = {
        "requestContext": {
            "functionArn": "arn:aws:lambda:us-east-1:1:function:App-Fn:$LATEST",
            "condition": "RetriesExhausted",
        },
        "requestPayload": EVENT,
        "responsePayload": {"errorType": "LedgerDown", "errorMessage": "x"},
    }
    sqs, functions = FakeSqs([(json.dumps(record), {})]), FakeLambda()
    outcome = redriver(sqs, lambda_=functions).redrive(dlq(ON_FAILURE))
    assert functions.invoked == [("arn:aws:lambda:us-east-1:1:function:App-Fn", EVENT)]
    assert sqs.calls == [("delete", "h0")] and outcome.moved == 1


def test_a_dry_run_sends_and_deletes_nothing_and_restores_everything() -> None:
    sqs, events = FakeSqs([rule_message("Throttling"), rule_message("NotFound")]), FakeEvents()
    outcome = redriver(sqs, events, dry_run=True, error="throttl").redrive(dlq(RULE))
    assert events.entries == [] and sqs.calls == [("restore", "h0"), ("restore", "h1")]
    assert (outcome.moved, outcome.skipped) == (1, 1)
    assert describe(outcome, dry_run=True)[0].startswith(
        "App-rule-Dlq [rule]: would move 1, skipped 1 by filter"
    )


def test_stream_records_are_left_parked_with_where_their_records_are() -> None:
    record = {
        "requestContext": {"condition": "RetryAttemptsExhausted"},
        "DDBStreamBatchInfo": {"shardId": "s-1"},
    }
    sqs = FakeSqs([(json.dumps(record), {})])
    outcome = redriver(sqs).redrive(dlq(STREAM))
    assert sqs.calls == [("restore", "h0")] and outcome.left == 1 and outcome.failed == 0
    assert "does not hold them" in outcome.notes[0] and "shard s-1" in outcome.notes[1]


def test_the_pacer_keeps_to_the_rate() -> None:
    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        pacer.wait()
    assert slept == [0.25, 0.25]
    Pacer(None, clock=lambda: 0.0, sleep=sleep).wait()
    assert slept == [0.25, 0.25]


def test_a_queue_dlq_redrive_slower_than_one_message_a_second_moves_one_by_one_hidden_long_enough() -> None:
    # Given two parked messages and a rate below what StartMessageMoveTask accepts
    sqs = FakeSqs([("a", {}), ("b", {})])
    hidden: list[int] = []
    receive = sqs.receive_message

    def watching(**params: Any) -> dict[str, Any]:
        hidden.append(params["VisibilityTimeout"])
        return receive(**params)

    sqs.receive_message = watching  # type: ignore[method-assign]
    # When they are redriven at one message every two seconds
    outcome = redriver(sqs, rate=0.5, limit=10).redrive(dlq(QUEUE))
    # Then each was sent then deleted, with no move task, and hidden for longer than the run takes
    assert [call[0] for call in sqs.calls] == ["send", "delete", "send", "delete"]
    assert outcome.moved == 2 and hidden[0] >= 60 + 10 / 0.5
