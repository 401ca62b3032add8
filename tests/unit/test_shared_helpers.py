"""lambdas/shared: the publisher's result per entry, the AWS error codes, the validation formatter."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from shared import aws_errors
from shared.aws_errors import applied, error_code, is_condition_failure
from shared.eventbus import UNANSWERED, UNREACHABLE, EventBridgePublisher, PublishFailed


class Detail:
    SOURCE: ClassVar[str] = "myapp.orders"

    def __init__(self, detail_type: str) -> None:
        self.DETAIL_TYPE = detail_type  # type: ignore[misc]

    def model_dump_json(self) -> str:
        return "{}"


class ScriptedEvents:
    """PutEvents answering from a script: per call, an error code per entry (None = accepted), or an
    exception for the whole request."""

    def __init__(self, *script: list[str | None] | Exception) -> None:
        self.script = list(script)
        self.calls: list[list[str]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([e["DetailType"] for e in Entries])
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        assert len(step) == len(Entries)
        results = [
            {"EventId": f"id-{len(self.calls)}-{i}"} if c is None else {"ErrorCode": c}
            for i, c in enumerate(step)
        ]
        return {"FailedEntryCount": sum(c is not None for c in step), "Entries": results}


def publisher(client: ScriptedEvents) -> EventBridgePublisher:
    return EventBridgePublisher(client, bus_name="bus", sleep=lambda _: None)


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "PutEvents")


def test_put_returns_one_result_per_event_in_order_retrying_only_what_may_succeed() -> None:
    # Given PutEvents that throttles A, rejects B's detail for good and accepts C, then accepts A
    client = ScriptedEvents(["ThrottlingException", "MalformedDetail", None], [None])
    # When three events are put
    results = publisher(client).put(Detail("A"), Detail("B"), Detail("C"))
    # Then only A was sent again, and each event has its own outcome
    assert client.calls == [["A", "B", "C"], ["A"]]
    assert [(r.detail_type, r.published, r.error_code) for r in results] == [
        ("A", True, None),
        ("B", False, "MalformedDetail"),
        ("C", True, None),
    ]
    assert results[0].event_id == "id-2-0" and not results[1].retryable


def test_publish_raises_naming_each_event_that_is_not_on_the_bus() -> None:
    client = ScriptedEvents(["MalformedDetail", None])
    with pytest.raises(
        PublishFailed, match="1 of 2 events not published to bus after 1 attempts: A: MalformedDetail"
    ) as error:
        publisher(client).publish(Detail("A"), Detail("B"))
    assert [r.published for r in error.value.results] == [False, True]


def test_a_request_without_an_answer_is_ambiguous_and_retried() -> None:
    # Given a request that timed out, then one that is answered
    timeout = ReadTimeoutError(endpoint_url="https://events")
    client = ScriptedEvents(timeout, [None])
    # When an event is put
    [result] = publisher(client).put(Detail("A"))
    # Then it was sent again (consumers are idempotent: a duplicate is harmless, a loss is not)
    assert result.published and len(client.calls) == 2


def test_results_say_when_the_outcome_is_unknown_or_the_request_failed() -> None:
    client = ScriptedEvents(*[ReadTimeoutError(endpoint_url="https://events")] * 3)
    [result] = publisher(client).put(Detail("A"))
    assert (result.error_code, result.ambiguous, len(client.calls)) == (UNANSWERED, True, 3)
    client = ScriptedEvents(*[EndpointConnectionError(endpoint_url="https://events")] * 3)
    [result] = publisher(client).put(Detail("A"))
    assert (result.error_code, result.ambiguous, len(client.calls)) == (UNREACHABLE, False, 3)
    client = ScriptedEvents(client_error("AccessDeniedException"))
    [result] = publisher(client).put(Detail("A"))
    assert (result.error_code, result.retryable, len(client.calls)) == ("AccessDeniedException", False, 1)


def test_error_codes_are_read_and_classified_in_one_place() -> None:
    assert error_code(client_error(aws_errors.CONDITIONAL_CHECK_FAILED)) == "ConditionalCheckFailedException"
    assert is_condition_failure(client_error("ConditionalCheckFailedException"))
    assert aws_errors.is_transient(client_error("ProvisionedThroughputExceededException"))
    assert not aws_errors.is_transient(client_error("ValidationException"))
    canceled = ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "m"},
            "CancellationReasons": [{"Code": "None"}, {"Code": "ConditionalCheckFailed"}],
        },
        "TransactWriteItems",
    )
    assert aws_errors.cancellation_reasons(canceled) == ["None", aws_errors.REASON_CONDITIONAL_CHECK_FAILED]
    assert aws_errors.cancellation_reasons(client_error("ThrottlingException")) == []


def test_a_conditional_write_says_whether_it_was_applied_and_raises_anything_else() -> None:
    def refusing(code: str) -> Any:
        def write(**request: Any) -> None:
            raise ClientError({"Error": {"Code": code, "Message": "no"}}, "PutItem")

        return write

    # Given writes that succeed, fail their condition, or fail otherwise
    # Then applied says True, False, or raises
    assert applied(lambda **request: None, TableName="t") is True
    assert applied(refusing("ConditionalCheckFailedException"), TableName="t") is False
    with pytest.raises(ClientError):
        applied(refusing("ProvisionedThroughputExceededException"), TableName="t")
