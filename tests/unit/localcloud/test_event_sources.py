"""Tests for localcloud's event source mappings: SQS and DynamoDB streams polled as AWS does, and TTL."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.core import ACCOUNT_ID, Clock, Scheduler, Settings, Trace
from localcloud.event_sources import EventSourcePoller

REGION = "us-east-1"


@dataclass
class Outcome:
    payload: Any = None
    error: dict[str, Any] | None = None


@dataclass
class FakeFunction:
    """Stands in for the Lambda runtime: records every event and answers with a scripted outcome."""

    script: Callable[[dict[str, Any]], Outcome] = field(default=lambda event: Outcome())
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, function_arn: str, event: dict[str, Any]) -> Outcome:
        with self._lock:
            self.calls.append((function_arn, json.loads(json.dumps(event))))
        return self.script(event)

    @property
    def batches(self) -> list[list[dict[str, Any]]]:
        with self._lock:
            return [event["Records"] for _, event in self.calls]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for batch in self.batches for record in batch]


@dataclass
class Cloud:
    clock: Clock
    scheduler: Scheduler
    trace: Trace
    function: FakeFunction
    poller: EventSourcePoller
    sqs: Any
    dynamodb: Any
    awslambda: Any

    def settle(self, within: float = 0.1) -> None:
        """Waits until no poll, retry or wake-up is due within `within` seconds."""
        assert self.scheduler.wait_idle(timeout=10, within=within)


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        clock, scheduler, trace = Clock(), Scheduler(), Trace()
        function = FakeFunction()
        poller = EventSourcePoller(
            Settings(fast=True),
            clock,
            scheduler,
            trace,
            function,
            ACCOUNT_ID,
            REGION,
            ttl_sweep_interval=3600,  # sweeps here come from clock.advance(); see the periodic test
        )
        poller.start()
        yield Cloud(
            clock,
            scheduler,
            trace,
            function,
            poller,
            boto3.client("sqs", region_name=REGION),
            boto3.client("dynamodb", region_name=REGION),
            boto3.client("lambda", region_name=REGION),
        )
        poller.stop()
        scheduler.stop()


# --- helpers ----------------------------------------------------------------------------------------------


def _function(client: Any, name: str = "consumer") -> str:
    iam = boto3.client("iam", region_name=REGION)
    policy = {"Version": "2012-10-17", "Statement": []}
    try:
        role = iam.get_role(RoleName="esm-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="esm-role", AssumeRolePolicyDocument=json.dumps(policy))["Role"][
            "Arn"
        ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    response = client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    return str(response["FunctionArn"])


def _queue(cloud: Cloud, name: str, **attributes: Any) -> tuple[str, str]:
    url = cloud.sqs.create_queue(
        QueueName=name, Attributes={key: str(value) for key, value in attributes.items()}
    )["QueueUrl"]
    arn = cloud.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _queue_depth(cloud: Cloud, url: str) -> int:
    attributes = cloud.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _drain(cloud: Cloud, url: str) -> list[str]:
    response = cloud.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [message["Body"] for message in response.get("Messages", [])]


def _table(cloud: Cloud, name: str = "items", *, ttl: bool = False) -> str:
    description = cloud.dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    if ttl:
        cloud.dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
        )
    return str(description["LatestStreamArn"])


def _put(cloud: Cloud, pk: str, table: str = "items", **attributes: dict[str, str]) -> None:
    cloud.dynamodb.put_item(TableName=table, Item={"pk": {"S": pk}, **attributes})


def _streams_client() -> Any:
    # botocore's default DynamoDB Streams endpoint is not routed by moto 5.2.5 ("Not yet implemented").
    return boto3.client(
        "dynamodbstreams", region_name=REGION, endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com"
    )


def _keys(batch: list[dict[str, Any]]) -> list[str]:
    return [record["dynamodb"]["Keys"]["pk"]["S"] for record in batch]


def _on_failure_messages(cloud: Cloud, url: str) -> list[dict[str, Any]]:
    return [json.loads(body) for body in _drain(cloud, url)]


def _outcomes(cloud: Cloud) -> list[str]:
    return [record.get("outcome", "") for record in cloud.trace.records(kind="esm")]


# --- SQS --------------------------------------------------------------------------------------------------


def test_sqs_batches_honour_batch_size_and_carry_the_aws_record_shape(cloud: Cloud) -> None:
    # Given seven messages waiting in a queue, one with message attributes, and a mapping of BatchSize 3
    function_arn = _function(cloud.awslambda)
    url, queue_arn = _queue(cloud, "orders")
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
    assert _queue_depth(cloud, url) == 0
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
    _function(cloud.awslambda)
    url, queue_arn = _queue(cloud, "grouped")
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
    _function(cloud.awslambda)
    dlq_url, dlq_arn = _queue(cloud, "orders-dlq")
    url, queue_arn = _queue(
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
    assert _queue_depth(cloud, url) == 0
    assert _drain(cloud, dlq_url) == ["bad"]
    assert _outcomes(cloud).count("partial failures") == 2
    assert "redriven to DLQ" in _outcomes(cloud)


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
    _function(cloud.awslambda)
    url, queue_arn = _queue(cloud, "orders", VisibilityTimeout=30)
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
    assert _queue_depth(cloud, url) == 0


def test_sqs_filter_criteria_deliver_matching_messages_and_delete_the_rest(cloud: Cloud) -> None:
    # Given a mapping whose filter wants JSON bodies of kind "order"
    _function(cloud.awslambda)
    url, queue_arn = _queue(cloud, "orders")
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
    assert _queue_depth(cloud, url) == 0
    assert "filtered" in _outcomes(cloud)


def test_reserved_concurrency_zero_throttles_the_mapping(cloud: Cloud) -> None:
    # Given a function with no concurrency at all
    _function(cloud.awslambda)
    cloud.awslambda.put_function_concurrency(FunctionName="consumer", ReservedConcurrentExecutions=0)
    url, queue_arn = _queue(cloud, "orders")

    # When a message arrives for its mapping
    cloud.awslambda.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="consumer")
    cloud.sqs.send_message(QueueUrl=url, MessageBody="waiting")
    cloud.settle()

    # Then nothing is invoked and the message stays in the queue
    assert cloud.function.calls == []
    assert _queue_depth(cloud, url) == 1
    assert "throttled" in _outcomes(cloud)


def test_moto_synchronous_invoke_is_off_while_the_poller_runs(cloud: Cloud) -> None:
    # Given a mapping, and the scheduler's only worker kept busy
    _function(cloud.awslambda)
    url, queue_arn = _queue(cloud, "orders")
    cloud.awslambda.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="consumer")
    cloud.settle()
    release = threading.Event()

    def hold_the_worker() -> None:
        release.wait(5)

    cloud.scheduler.submit(hold_the_worker, name="hold the worker")

    # When a message is sent
    cloud.sqs.send_message(QueueUrl=url, MessageBody="hello")

    # Then sending invoked nothing: the message waits in the queue, never received
    assert cloud.function.calls == []
    attributes = cloud.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"
    # And once the poller runs, it is delivered once
    release.set()
    cloud.settle()
    assert [record["body"] for record in cloud.function.records] == ["hello"]
    assert cloud.function.records[0]["attributes"]["ApproximateReceiveCount"] == "1"


def test_stop_restores_moto(cloud: Cloud) -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.dynamodb.models.table import StreamShard
    from moto.sqs.models import Queue

    # Given a running poller: moto's methods are patched
    patched = (Queue.add_message, StreamShard.add, LambdaBackend.create_event_source_mapping)
    _, queue_arn = _queue(cloud, "orders")
    _function(cloud.awslambda)
    cloud.awslambda.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="consumer")

    # When it stops
    cloud.poller.stop()

    # Then moto's own methods are back, and queues still know their mappings
    assert Queue.add_message is not patched[0]
    assert StreamShard.add is not patched[1]
    assert LambdaBackend.create_event_source_mapping is not patched[2]
    assert "lambda_event_source_mappings" not in vars(Queue)
    from moto.sqs.models import sqs_backends

    assert len(sqs_backends[ACCOUNT_ID][REGION].queues["orders"].lambda_event_source_mappings) == 1


def test_disabled_mapping_does_not_poll_until_enabled(cloud: Cloud) -> None:
    # Given a disabled mapping and a message
    _function(cloud.awslambda)
    url, queue_arn = _queue(cloud, "orders")
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
    _function(cloud.awslambda)
    url, queue_arn = _queue(
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
    assert _queue_depth(cloud, url) == 0


# --- DynamoDB streams -------------------------------------------------------------------------------------


def test_stream_records_carry_insert_modify_remove_with_images(cloud: Cloud) -> None:
    # Given a table with a NEW_AND_OLD_IMAGES stream and a mapping from TRIM_HORIZON
    _function(cloud.awslambda)
    stream_arn = _table(cloud)
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="consumer", StartingPosition="TRIM_HORIZON"
    )

    # When an item is inserted, modified and deleted by a user
    _put(cloud, "a", status={"S": "new"})
    _put(cloud, "a", status={"S": "paid"})
    cloud.dynamodb.delete_item(TableName="items", Key={"pk": {"S": "a"}})
    cloud.settle()

    # Then the function received the three records in order, shaped as AWS sends them
    records = cloud.function.records
    assert [record["eventName"] for record in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = records
    assert insert["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "status": {"S": "new"}}
    assert "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["status"] == {"S": "new"}
    assert modify["dynamodb"]["NewImage"]["status"] == {"S": "paid"}
    assert remove["dynamodb"]["OldImage"]["status"] == {"S": "paid"}
    assert "NewImage" not in remove["dynamodb"]
    for record in records:
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventVersion"] == "1.1"
        assert record["awsRegion"] == REGION
        assert record["eventSourceARN"] == stream_arn
        assert record["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert abs(record["dynamodb"]["ApproximateCreationDateTime"] - time.time()) < 60
        assert record["dynamodb"]["SizeBytes"] > 0
        assert "userIdentity" not in record  # a user's delete has no service identity
    sequence_numbers = [int(record["dynamodb"]["SequenceNumber"]) for record in records]
    assert sequence_numbers == sorted(set(sequence_numbers))


def test_latest_starting_position_skips_earlier_records(cloud: Cloud) -> None:
    # Given a stream with one record already written
    _function(cloud.awslambda)
    stream_arn = _table(cloud)
    _put(cloud, "before")

    # When a LATEST mapping is created and another item is written
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="consumer", StartingPosition="LATEST"
    )
    _put(cloud, "after")
    cloud.settle()

    # Then only the later record is delivered
    assert _keys(cloud.function.records) == ["after"]


def test_filter_criteria_drop_records_no_filter_matches(cloud: Cloud) -> None:
    # Given a mapping that wants inserts, and removals only when TTL made them
    _function(cloud.awslambda)
    stream_arn = _table(cloud, ttl=True)
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        FilterCriteria={
            "Filters": [
                {"Pattern": json.dumps({"eventName": ["INSERT"]})},
                {"Pattern": json.dumps({"eventName": ["REMOVE"], "userIdentity": {"type": ["Service"]}})},
            ]
        },
    )

    # When items are inserted, modified, deleted by a user, and expired by TTL
    _put(cloud, "expiring", expires={"N": str(int(cloud.clock.now()) + 100)})
    _put(cloud, "kept")
    _put(cloud, "kept", status={"S": "changed"})
    cloud.dynamodb.delete_item(TableName="items", Key={"pk": {"S": "kept"}})
    cloud.clock.advance(200)
    cloud.settle()

    # Then only the inserts and the TTL removal reached the function
    assert [(r["eventName"], _keys([r])[0]) for r in cloud.function.records] == [
        ("INSERT", "expiring"),
        ("INSERT", "kept"),
        ("REMOVE", "expiring"),
    ]
    assert "filtered" in _outcomes(cloud)


def test_failing_record_is_retried_then_reported_on_failure_and_the_shard_moves_on(cloud: Cloud) -> None:
    # Given a mapping of BatchSize 1 with 2 retries and an OnFailure queue, and a function failing on "bad"
    function_arn = _function(cloud.awslambda)
    stream_arn = _table(cloud)
    failure_url, failure_arn = _queue(cloud, "stream-failures")
    cloud.function.script = lambda event: (
        Outcome(error={"errorType": "Boom", "errorMessage": "bad record"})
        if "bad" in _keys(event["Records"])
        else Outcome()
    )
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )

    # When three items are written, the second one poisonous
    for key in ("good-1", "bad", "good-2"):
        _put(cloud, key)
    cloud.settle()

    # Then "bad" was tried three times (1 + 2 retries) and the records after it still flowed
    assert [_keys(batch) for batch in cloud.function.batches] == [
        ["good-1"],
        ["bad"],
        ["bad"],
        ["bad"],
        ["good-2"],
    ]
    # And the OnFailure queue got AWS's record of the discarded batch
    bad_sequence = cloud.function.batches[1][0]["dynamodb"]["SequenceNumber"]
    (failure,) = _on_failure_messages(cloud, failure_url)
    assert failure["requestContext"]["functionArn"] == function_arn
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["requestId"]
    assert failure["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert failure["version"] == "1.0"
    assert failure["timestamp"].endswith("Z")
    info = failure["DDBStreamBatchInfo"]
    assert info["shardId"].startswith("shardId-")
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == bad_sequence
    assert info["batchSize"] == 1
    assert info["streamArn"] == stream_arn
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert "sent to OnFailure" in _outcomes(cloud)


def test_report_batch_item_failures_retries_from_the_first_failed_record(cloud: Cloud) -> None:
    # Given three records waiting behind a disabled mapping that reports "b" failed, with 1 retry
    _function(cloud.awslambda)
    stream_arn = _table(cloud)
    failure_url, failure_arn = _queue(cloud, "stream-failures")
    mapping = cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        Enabled=False,
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    for key in ("a", "b", "c"):
        _put(cloud, key)

    def report_b(event: dict[str, Any]) -> Outcome:
        failed = [r["dynamodb"]["SequenceNumber"] for r in event["Records"] if _keys([r]) == ["b"]]
        return Outcome(payload={"batchItemFailures": [{"itemIdentifier": s} for s in failed]})

    cloud.function.script = report_b

    # When the mapping is enabled
    cloud.awslambda.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    cloud.settle()

    # Then "a" was checkpointed and the retry started at "b"
    assert [_keys(batch) for batch in cloud.function.batches] == [["a", "b", "c"], ["b", "c"]]
    # And the unprocessed suffix was reported, without a function error
    (failure,) = _on_failure_messages(cloud, failure_url)
    sequence = {_keys([r])[0]: r["dynamodb"]["SequenceNumber"] for r in cloud.function.batches[0]}
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == sequence["b"]
    assert failure["DDBStreamBatchInfo"]["endSequenceNumber"] == sequence["c"]
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 2
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}


def test_bisect_isolates_the_failing_record(cloud: Cloud) -> None:
    # Given four records behind a disabled mapping that bisects on error and never retries
    _function(cloud.awslambda)
    stream_arn = _table(cloud)
    failure_url, failure_arn = _queue(cloud, "stream-failures")
    mapping = cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        Enabled=False,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    for key in ("a", "bad", "c", "d"):
        _put(cloud, key)
    cloud.function.script = lambda event: (
        Outcome(error={"errorType": "Boom", "errorMessage": "x"})
        if "bad" in _keys(event["Records"])
        else Outcome()
    )

    # When the mapping is enabled
    cloud.awslambda.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    cloud.settle()

    # Then the batch was halved until the bad record stood alone; only it was discarded
    assert [_keys(batch) for batch in cloud.function.batches] == [
        ["a", "bad", "c", "d"],
        ["a", "bad"],
        ["a"],
        ["bad"],
        ["c", "d"],
    ]
    (failure,) = _on_failure_messages(cloud, failure_url)
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
    assert (
        failure["DDBStreamBatchInfo"]["startSequenceNumber"]
        == cloud.function.batches[3][0]["dynamodb"]["SequenceNumber"]
    )


def test_maximum_record_age_releases_a_shard_blocked_by_infinite_retries(cloud: Cloud) -> None:
    # Given a mapping with infinite retries but a 60 s maximum record age, and a function failing on "bad"
    _function(cloud.awslambda)
    stream_arn = _table(cloud)
    failure_url, failure_arn = _queue(cloud, "stream-failures")
    cloud.function.script = lambda event: (
        Outcome(error={"errorType": "Boom", "errorMessage": "x"})
        if "bad" in _keys(event["Records"])
        else Outcome()
    )
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRecordAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    _put(cloud, "bad")
    deadline = time.monotonic() + 5
    while len(cloud.function.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _keys(cloud.function.records[-1:]) == ["bad"]  # still blocked, retrying

    # When the record grows older than the maximum age, and a new record follows
    cloud.clock.advance(120)
    _put(cloud, "good")
    cloud.settle()

    # Then the old record is reported as too old and the new one flows
    assert _keys(cloud.function.records[-1:]) == ["good"]
    (failure,) = _on_failure_messages(cloud, failure_url)
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"


def test_no_duplicate_stream_records_with_concurrent_writers(cloud: Cloud) -> None:
    # Given a mapping on a stream
    _function(cloud.awslambda)
    stream_arn = _table(cloud)
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="consumer", StartingPosition="TRIM_HORIZON"
    )

    # When eight writers put fifteen items each at the same time
    def writer(number: int) -> None:
        client = boto3.client("dynamodb", region_name=REGION)
        for index in range(15):
            client.put_item(TableName="items", Item={"pk": {"S": f"w{number}-{index}"}})

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cloud.settle()

    # Then every write reached the function exactly once, in sequence-number order
    keys = _keys(cloud.function.records)
    assert sorted(keys) == sorted(f"w{n}-{i}" for n in range(8) for i in range(15))
    sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in cloud.function.records]
    assert sequence_numbers == sorted(set(sequence_numbers))
    # And the DynamoDB Streams API shows the same 120 distinct records
    streams = _streams_client()
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert len({record["dynamodb"]["SequenceNumber"] for record in records}) == len(records) == 120


# --- TTL --------------------------------------------------------------------------------------------------


def test_ttl_expiry_removes_items_with_the_service_identity(cloud: Cloud) -> None:
    # Given a TTL table with an item expiring in an hour, and items TTL must leave alone
    _function(cloud.awslambda)
    stream_arn = _table(cloud, ttl=True)
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="consumer", StartingPosition="TRIM_HORIZON"
    )
    now = int(cloud.clock.now())
    _put(cloud, "expiring", expires={"N": str(now + 3600)})
    _put(cloud, "text-ttl", expires={"S": str(now - 10)})  # not a Number: never expires
    _put(cloud, "ancient", expires={"N": str(now - 6 * 365 * 86_400)})  # over five years ago: ignored
    _put(cloud, "user-deleted")
    _put(cloud, "no-ttl")
    cloud.dynamodb.delete_item(TableName="items", Key={"pk": {"S": "user-deleted"}})
    cloud.settle()

    # When local time moves two hours on
    cloud.clock.advance(7200)
    cloud.settle()

    # Then the expired item is gone and its REMOVE carries the service identity; the user's has none
    assert "Item" not in cloud.dynamodb.get_item(TableName="items", Key={"pk": {"S": "expiring"}})
    removes = {_keys([r])[0]: r for r in cloud.function.records if r["eventName"] == "REMOVE"}
    assert set(removes) == {"user-deleted", "expiring"}
    assert removes["expiring"]["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert removes["expiring"]["dynamodb"]["OldImage"]["expires"] == {"N": str(now + 3600)}
    assert "userIdentity" not in removes["user-deleted"]
    # And the items TTL ignores are still there
    for key in ("text-ttl", "ancient", "no-ttl"):
        assert "Item" in cloud.dynamodb.get_item(TableName="items", Key={"pk": {"S": key}})
    # And the Streams API shows the identity too
    streams = _streams_client()
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    last = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"][-1]
    assert last["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}


def test_periodic_sweep_deletes_items_expired_by_wall_time() -> None:
    with mock_aws():
        # Given a poller sweeping every 50 ms and an item that expired ten seconds ago
        clock, scheduler, trace = Clock(), Scheduler(), Trace()
        poller = EventSourcePoller(
            Settings(fast=True),
            clock,
            scheduler,
            trace,
            FakeFunction(),
            ACCOUNT_ID,
            REGION,
            ttl_sweep_interval=0.05,
        )
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="sessions",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName="sessions", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
        )
        dynamodb.put_item(
            TableName="sessions", Item={"pk": {"S": "s"}, "expires": {"N": str(int(time.time()) - 10)}}
        )
        try:
            # When the poller runs without any clock change
            poller.start()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not trace.records(kind="ttl"):
                time.sleep(0.01)

            # Then the sweep deleted the item
            assert "Item" not in dynamodb.get_item(TableName="sessions", Key={"pk": {"S": "s"}})
            assert "1 expired item(s)" in trace.records(kind="ttl")[0]["message"]
        finally:
            poller.stop()
            scheduler.stop()
