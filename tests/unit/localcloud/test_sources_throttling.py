"""Tests for event source mappings meeting a function's limits: throttled invocations and SQS concurrency."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest

from localcloud.core.settings import REGION
from tests.unit.localcloud import sources_helpers
from tests.unit.localcloud.running_cloud import wait_until
from tests.unit.localcloud.sources_helpers import (
    Cloud,
    Gate,
    Outcome,
    bodies,
    create_function,
    create_queue,
    create_table,
    drain,
    keys_of,
    on_failure_messages,
    outcomes,
    put,
    queue_depth,
    running_cloud,
    throttle_first,
)

cloud = sources_helpers.cloud


# --- SQS: a throttled batch stays in the queue ------------------------------------------------------------


def test_a_throttled_sqs_batch_stays_in_the_queue_and_is_delivered_later(cloud: Cloud) -> None:
    # Given a queue with a 30 s visibility timeout (30 ms in fast mode) holding two messages,
    # and a function at its concurrency limit for the first invocation
    create_function(cloud.awslambda)
    url, queue_arn = create_queue(cloud, "orders", VisibilityTimeout=30)
    for body in ("a", "b"):
        cloud.sqs.send_message(QueueUrl=url, MessageBody=body)
    cloud.function.throttle = throttle_first(1)

    # When the mapping runs
    cloud.awslambda.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="consumer")
    cloud.settle()

    # Then the throttled batch never reached the handler; it came back and was delivered once
    assert bodies(cloud.function.throttled_batches) == [["a", "b"]]
    assert bodies(cloud.function.batches) == [["a", "b"]]
    # And its throttled receive counted, as on AWS
    assert [r["attributes"]["ApproximateReceiveCount"] for r in cloud.function.records] == ["2", "2"]
    # And nothing is left in the queue
    assert queue_depth(cloud, url) == 0
    assert outcomes(cloud).count("throttled") == 1
    assert "ok" in outcomes(cloud)


def test_throttled_receives_count_towards_the_dlq_redrive(cloud: Cloud) -> None:
    # Given a queue that redrives to a DLQ after 2 receives, and a function that is always throttled
    create_function(cloud.awslambda)
    dlq_url, dlq_arn = create_queue(cloud, "orders-dlq")
    url, queue_arn = create_queue(
        cloud,
        "orders",
        VisibilityTimeout=30,
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
    )
    cloud.function.throttle = lambda event: True
    cloud.sqs.send_message(QueueUrl=url, MessageBody="stuck")

    # When the mapping runs
    cloud.awslambda.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="consumer")
    cloud.settle()

    # Then the handler never ran; the message was throttled twice, then redriven to the DLQ, not lost
    assert cloud.function.calls == []
    assert bodies(cloud.function.throttled_batches) == [["stuck"], ["stuck"]]
    assert queue_depth(cloud, url) == 0
    assert drain(cloud, dlq_url) == ["stuck"]
    assert "redriven to DLQ" in outcomes(cloud)


def test_a_throttled_sqs_mapping_backs_off_instead_of_receiving_every_message() -> None:
    # AWS's timing, not fast mode: the first back-off lasts a second, long enough to see the mapping wait
    with running_cloud(fast=False) as cloud:
        # Given ten messages, a mapping of BatchSize 1 and MaximumConcurrency 2, and a function at its limit
        create_function(cloud.awslambda)
        url, queue_arn = create_queue(cloud, "orders", VisibilityTimeout=2)
        for number in range(10):
            cloud.sqs.send_message(QueueUrl=url, MessageBody=f"m{number}")
        at_limit = threading.Event()
        at_limit.set()
        cloud.function.throttle = lambda event: at_limit.is_set()

        # When the mapping runs until it waits
        cloud.awslambda.create_event_source_mapping(
            EventSourceArn=queue_arn,
            FunctionName="consumer",
            BatchSize=1,
            ScalingConfig={"MaximumConcurrency": 2},
        )
        wait_until(lambda: bool(cloud.function.throttled), "a throttle")
        cloud.settle(within=0.5)

        # Then it backed off after its first throttled batches: the other messages were not received
        assert len(cloud.function.throttled_batches) <= 2

        # And once the function has capacity again, every message is delivered, none lost
        at_limit.clear()
        wait_until(lambda: len(cloud.function.records) >= 10, "ten records")
        assert sorted(r["body"] for r in cloud.function.records) == sorted(f"m{n}" for n in range(10))


# --- SQS: batches in flight at once -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scaling_config", "messages", "expected"),
    [
        pytest.param({"ScalingConfig": {"MaximumConcurrency": 2}}, 6, 2, id="MaximumConcurrency 2"),
        pytest.param({}, 10, 5, id="no ScalingConfig: Lambda's 5 pollers"),
    ],
)
def test_sqs_mapping_runs_up_to_its_maximum_concurrency_at_once(
    cloud: Cloud, scaling_config: dict[str, Any], messages: int, expected: int
) -> None:
    # Given more messages waiting than the mapping may have batches in flight, and a function whose
    # calls are held until the test releases them
    create_function(cloud.awslambda)
    url, queue_arn = create_queue(cloud, "orders")
    for number in range(messages):
        cloud.sqs.send_message(QueueUrl=url, MessageBody=f"m{number}")
    gate = Gate()
    cloud.function.script = gate
    cloud.settle()
    quiet = cloud.scheduler.pending()  # what the scheduler holds with nothing to do (the TTL sweep)

    def every_poll_has_run() -> bool:
        # Nothing runs but the held calls, and nothing more is waiting to run.
        return cloud.scheduler.pending() <= quiet + gate.held

    try:
        # When the mapping of BatchSize 1 runs, its calls released one at a time once enough are running
        cloud.awslambda.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName="consumer", BatchSize=1, **scaling_config
        )
        for released in range(messages):
            if messages - released > expected:
                # Messages are still waiting: every poll has had its chance to take one
                wait_until(lambda: gate.held >= expected and every_poll_has_run(), f"{expected} held calls")
                assert gate.held == expected
            else:
                remaining = messages - released
                wait_until(lambda remaining=remaining: gate.held >= remaining, f"{remaining} held calls")
            gate.release_one()
        cloud.settle()
    finally:
        gate.release_all()

    # Then exactly the maximum concurrency ran at once, never more
    assert gate.peak == expected
    # And every message was delivered once, and deleted
    assert sorted(r["body"] for r in cloud.function.records) == sorted(f"m{n}" for n in range(messages))
    assert [len(batch) for batch in cloud.function.batches] == [1] * messages
    assert queue_depth(cloud, url) == 0


# --- DynamoDB streams: a throttled batch is retried, not counted --------------------------------------------


def test_a_throttled_stream_batch_is_retried_without_using_a_retry_attempt(cloud: Cloud) -> None:
    # Given a mapping that never retries a failed batch, with an OnFailure queue,
    # and a function at its concurrency limit for the first invocation
    create_function(cloud.awslambda)
    stream_arn = create_table(cloud)
    failure_url, failure_arn = create_queue(cloud, "stream-failures")
    cloud.function.throttle = throttle_first(1)
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )

    # When an item is written
    put(cloud, "a")
    cloud.settle()

    # Then the throttled batch was tried again after the back-off and delivered, not discarded
    assert [keys_of(batch) for batch in cloud.function.throttled_batches] == [["a"]]
    assert [keys_of(batch) for batch in cloud.function.batches] == [["a"]]
    assert on_failure_messages(cloud, failure_url) == []
    assert "throttled" in outcomes(cloud)
    assert "sent to OnFailure" not in outcomes(cloud)
    assert "discarded" not in outcomes(cloud)


def test_a_throttled_stream_batch_keeps_its_records_and_the_shard_order(cloud: Cloud) -> None:
    # Given three records behind a disabled mapping of BatchSize 2, and a function throttled twice
    create_function(cloud.awslambda)
    stream_arn = create_table(cloud)
    mapping = cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        Enabled=False,
        BatchSize=2,
        MaximumRetryAttempts=0,
    )
    for key in ("a", "b", "c"):
        put(cloud, key)
    cloud.function.throttle = throttle_first(2)

    # When the mapping is enabled
    cloud.awslambda.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    cloud.settle()

    # Then both throttled attempts carried the same first batch, which was then delivered
    assert [keys_of(batch) for batch in cloud.function.throttled_batches] == [["a", "b"], ["a", "b"]]
    same = [[r["dynamodb"]["SequenceNumber"] for r in batch] for batch in cloud.function.throttled_batches]
    assert same[0] == same[1] == [r["dynamodb"]["SequenceNumber"] for r in cloud.function.batches[0]]
    # And the records after it followed only then, in shard order
    assert [keys_of(batch) for batch in cloud.function.batches] == [["a", "b"], ["c"]]


def test_a_throttled_stream_batch_that_then_fails_still_gets_its_retry_attempts(cloud: Cloud) -> None:
    # Given a mapping with 1 retry and an OnFailure queue, and a function throttled once, then failing
    function_arn = create_function(cloud.awslambda)
    stream_arn = create_table(cloud)
    failure_url, failure_arn = create_queue(cloud, "stream-failures")
    cloud.function.throttle = throttle_first(1)
    cloud.function.script = lambda event: Outcome(error={"errorType": "Boom", "errorMessage": "x"})
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=stream_arn,
        FunctionName="consumer",
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )

    # When an item is written
    put(cloud, "a")
    cloud.settle()

    # Then the handler ran 1 + 1 retry times after the throttle, and the batch was then reported
    assert [keys_of(batch) for batch in cloud.function.throttled_batches] == [["a"]]
    assert [keys_of(batch) for batch in cloud.function.batches] == [["a"], ["a"]]
    (failure,) = on_failure_messages(cloud, failure_url)
    assert failure["requestContext"]["functionArn"] == function_arn
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2


def test_sqs_maximum_concurrency_holds_while_messages_keep_arriving(cloud: Cloud) -> None:
    # Given a mapping of BatchSize 1 and MaximumConcurrency 2, and a function that takes a moment
    create_function(cloud.awslambda)
    url, queue_arn = create_queue(cloud, "orders")
    lock = threading.Lock()
    in_flight, peak = [0], [0]

    def busy(event: dict[str, Any]) -> Outcome:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.002)
        with lock:
            in_flight[0] -= 1
        return Outcome()

    cloud.function.script = busy
    cloud.awslambda.create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName="consumer",
        BatchSize=1,
        ScalingConfig={"MaximumConcurrency": 2},
    )

    # When four senders send fifty messages each while it runs
    def sender(number: int) -> None:
        client = boto3.client("sqs", region_name=REGION)
        for index in range(50):
            client.send_message(QueueUrl=url, MessageBody=f"s{number}-{index}")

    senders = [threading.Thread(target=sender, args=(number,)) for number in range(4)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()
    cloud.settle()

    # Then every message was delivered once, and never more than 2 batches ran at once
    assert sorted(r["body"] for r in cloud.function.records) == sorted(
        f"s{n}-{i}" for n in range(4) for i in range(50)
    )
    assert peak[0] <= 2
