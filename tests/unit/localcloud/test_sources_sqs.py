"""Tests for localcloud's SQS event source mappings: queues polled in batches, as Lambda polls them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from localcloud.core.settings import REGION
from tests.unit.localcloud import sources_helpers
from tests.unit.localcloud.sources_helpers import (
    Cloud,
    Outcome,
    create_function,
    create_queue,
    drain,
    outcomes,
    queue_depth,
)

cloud = sources_helpers.cloud


def test_sqs_batches_honour_batch_size_and_carry_the_aws_record_shape(cloud: Cloud) -> None:
    # Given seven messages waiting in a queue, one with message attributes, and a mapping of BatchSize 3
    function_arn = create_function(cloud.awslambda)
    url, queue_arn = create_queue(cloud, "orders")
    for number in range(7):
        cloud.sqs.send_message(
            QueueUrl=url,
            MessageBody=f"m{number}",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}} if number == 0 else {},
        )

    # When the mapping is created and the poller drains the queue
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName="consumer", BatchSize=3
    )
    cloud.settle()

    # Then the function got batches of 3, 3 and 1, in order, and the queue is empty
    assert [len(batch) for batch in cloud.function.batches] == [3, 3, 1]
    assert [record["body"] for record in cloud.function.records] == [f"m{n}" for n in range(7)]
    assert queue_depth(cloud, url) == 0
    assert {arn for arn, _ in cloud.function.calls} == {function_arn}
    # And each record is shaped as Lambda's SQS event record
    first = cloud.function.records[0]
    assert set(first) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"] == queue_arn
    assert first["awsRegion"] == REGION
    assert first["md5OfBody"] == hashlib.md5(b"m0").hexdigest()
    assert first["messageAttributes"] == {
        "kind": {"stringValue": "order", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert set(first["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert "md5OfMessageAttributes" not in cloud.function.records[1]


def test_batch_window_waits_to_group_messages(cloud: Cloud) -> None:
    # Given a mapping of BatchSize 10 with a 300 s batching window (0.3 s in fast mode)
    create_function(cloud.awslambda)
    url, queue_arn = create_queue(cloud, "grouped")
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName="consumer", BatchSize=10, MaximumBatchingWindowInSeconds=300
    )

    # When three messages arrive one by one
    for number in range(3):
        cloud.sqs.send_message(QueueUrl=url, MessageBody=f"m{number}")

    # Then nothing is invoked before the window closes, and then once with all three
    assert cloud.function.calls == []
    cloud.settle(within=0.5)
    assert [[record["body"] for record in batch] for batch in cloud.function.batches] == [["m0", "m1", "m2"]]


def test_partial_batch_failure_deletes_successes_and_the_failure_ends_in_the_dlq(cloud: Cloud) -> None:
    # Given a queue with a DLQ after 2 receives, and a function that reports the "bad" message failed
    create_function(cloud.awslambda)
    dlq_url, dlq_arn = create_queue(cloud, "orders-dlq")
    url, queue_arn = create_queue(
        cloud,
        "orders",
        VisibilityTimeout=30,
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
    )

    def report_bad(event: dict[str, Any]) -> Outcome:
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "bad"]
        return Outcome(payload={"batchItemFailures": [{"itemIdentifier": i} for i in failed]})

    cloud.function.script = report_bad
    for body in ("a", "bad", "c"):
        cloud.sqs.send_message(QueueUrl=url, MessageBody=body)

    # When the mapping runs with ReportBatchItemFailures
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName="consumer",
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    cloud.settle()

    # Then the successes were delivered once and deleted; the failure came back once more
    bodies = [[record["body"] for record in batch] for batch in cloud.function.batches]
    assert bodies == [["a", "bad", "c"], ["bad"]]
    assert cloud.function.batches[1][0]["attributes"]["ApproximateReceiveCount"] == "2"
    # And after maxReceiveCount it was redriven to the DLQ, leaving the queue empty
    assert queue_depth(cloud, url) == 0
    assert drain(cloud, dlq_url) == ["bad"]
    assert outcomes(cloud).count("partial failures") == 2
    assert "redriven to DLQ" in outcomes(cloud)


@pytest.mark.parametrize(
    "first_outcome",
    [
        pytest.param(Outcome(error={"errorType": "Boom", "errorMessage": "failed"}), id="function error"),
        pytest.param(
            Outcome(payload={"batchItemFailures": [{"itemIdentifier": "unknown"}]}), id="unknown id"
        ),
        pytest.param(Outcome(payload={"batchItemFailures": [{"itemIdentifier": ""}]}), id="empty id"),
        pytest.param(Outcome(payload="done"), id="not an object"),
    ],
)
def test_an_error_or_invalid_response_returns_the_whole_batch(cloud: Cloud, first_outcome: Outcome) -> None:
    # Given a function that fails (or answers invalidly) once, then succeeds
    create_function(cloud.awslambda)
    url, queue_arn = create_queue(cloud, "orders", VisibilityTimeout=30)
    outcomes = [first_outcome]
    cloud.function.script = lambda event: outcomes.pop() if outcomes else Outcome()
    for body in ("a", "b"):
        cloud.sqs.send_message(QueueUrl=url, MessageBody=body)

    # When the mapping runs with ReportBatchItemFailures
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName="consumer", FunctionResponseTypes=["ReportBatchItemFailures"]
    )
    cloud.settle()

    # Then the whole batch came back after the visibility timeout and was then deleted
    assert [[r["body"] for r in batch] for batch in cloud.function.batches] == [["a", "b"], ["a", "b"]]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in cloud.function.batches[1]] == ["2", "2"]
    assert queue_depth(cloud, url) == 0


def test_sqs_filter_criteria_deliver_matching_messages_and_delete_the_rest(cloud: Cloud) -> None:
    # Given a mapping whose filter wants JSON bodies of kind "order"
    create_function(cloud.awslambda)
    url, queue_arn = create_queue(cloud, "orders")
    for body in ('{"kind": "order", "id": 1}', '{"kind": "refund"}', "plain text"):
        cloud.sqs.send_message(QueueUrl=url, MessageBody=body)

    # When the mapping runs
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName="consumer",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]},
    )
    cloud.settle()

    # Then only the order reached the function, as its original text, and nothing is left in the queue
    assert [record["body"] for record in cloud.function.records] == ['{"kind": "order", "id": 1}']
    assert queue_depth(cloud, url) == 0
    assert "filtered" in outcomes(cloud)


def test_a_filter_with_a_repeated_key_requires_both_as_aws_merges_them(cloud: Cloud) -> None:
    # Given a filter whose "body" key is written twice (AWS merges the two objects)
    create_function(cloud.awslambda)
    url, queue_arn = create_queue(cloud, "repeated")
    for body in ('{"kind": "order", "id": 1}', '{"kind": "order", "id": 2}', '{"kind": "refund", "id": 1}'):
        cloud.sqs.send_message(QueueUrl=url, MessageBody=body)
    pattern = '{"body": {"kind": ["order"]}, "body": {"id": [1]}}'

    # When the mapping runs
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName="consumer", FilterCriteria={"Filters": [{"Pattern": pattern}]}
    )
    cloud.settle()

    # Then only the message with both fields passed (not just the last "body")
    assert [record["body"] for record in cloud.function.records] == ['{"kind": "order", "id": 1}']


def test_reserved_concurrency_zero_throttles_the_mapping(cloud: Cloud) -> None:
    # Given a function with no concurrency at all
    create_function(cloud.awslambda)
    cloud.awslambda.put_function_concurrency(FunctionName="consumer", ReservedConcurrentExecutions=0)
    url, queue_arn = create_queue(cloud, "orders")

    # When a message arrives for its mapping
    cloud.awslambda.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="consumer")
    cloud.sqs.send_message(QueueUrl=url, MessageBody="waiting")
    cloud.settle()

    # Then nothing is invoked and the message stays in the queue
    assert cloud.function.calls == []
    assert queue_depth(cloud, url) == 1
    assert "throttled" in outcomes(cloud)


def test_disabled_mapping_does_not_poll_until_enabled(cloud: Cloud) -> None:
    # Given a disabled mapping and a message
    create_function(cloud.awslambda)
    url, queue_arn = create_queue(cloud, "orders")
    mapping = cloud.awslambda.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName="consumer", Enabled=False
    )
    cloud.sqs.send_message(QueueUrl=url, MessageBody="waiting")
    cloud.settle()

    # Then nothing is invoked
    assert cloud.function.calls == []

    # When the mapping is enabled
    cloud.awslambda.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    cloud.settle()

    # Then the message is delivered
    assert [record["body"] for record in cloud.function.records] == ["waiting"]


def test_fifo_queue_keeps_group_order_across_a_failure(cloud: Cloud) -> None:
    # Given a FIFO queue with two groups, and a function that fails its first batch
    create_function(cloud.awslambda)
    url, queue_arn = create_queue(
        cloud, "orders.fifo", FifoQueue="true", ContentBasedDeduplication="true", VisibilityTimeout=30
    )
    for group, body in (("g1", "g1-1"), ("g1", "g1-2"), ("g2", "g2-1"), ("g1", "g1-3")):
        cloud.sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    failures = [Outcome(error={"errorType": "Boom", "errorMessage": "once"})]
    cloud.function.script = lambda event: failures.pop() if failures else Outcome()

    # When the mapping runs
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName="consumer", BatchSize=10
    )
    cloud.settle()

    # Then each delivery kept the order within group g1, and FIFO attributes are present
    for batch in cloud.function.batches:
        assert [r["body"] for r in batch if r["attributes"]["MessageGroupId"] == "g1"] == [
            "g1-1",
            "g1-2",
            "g1-3",
        ]
    assert len(cloud.function.batches) == 2
    assert {"SequenceNumber", "MessageGroupId", "MessageDeduplicationId"} <= set(
        cloud.function.records[0]["attributes"]
    )
    assert queue_depth(cloud, url) == 0
