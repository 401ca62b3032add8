"""localcloud's SQS DLQ redrive: StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.unit.localcloud.running_cloud import Cloud, running_cloud, wait_until

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(tmp_path_factory.mktemp("state")) as running:
        yield running


def arn(name: str) -> str:
    return f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"


def queue_with_dlq(cloud: Cloud, name: str) -> tuple[str, str]:
    """A source queue and its DLQ (maxReceiveCount 1); returns their URLs."""
    sqs = cloud.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn(f"{name}-dlq"), "maxReceiveCount": 1})
    source = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy})["QueueUrl"]
    return source, dlq


def depth(cloud: Cloud, url: str) -> int:
    attributes = cloud.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def latest_task(cloud: Cloud, source_arn: str) -> dict[str, Any]:
    return dict(cloud.client("sqs").list_message_move_tasks(SourceArn=source_arn)["Results"][0])


def test_a_move_task_returns_parked_messages_to_their_source_queue(cloud: Cloud) -> None:
    # Given three messages parked in a DLQ, one with message attributes
    sqs = cloud.client("sqs")
    source, dlq = queue_with_dlq(cloud, "moves")
    for body in ("a", "b", "c"):
        sqs.send_message(
            QueueUrl=dlq,
            MessageBody=body,
            MessageAttributes={"k": {"DataType": "String", "StringValue": body}},
        )

    # When a move task starts without a destination
    handle = sqs.start_message_move_task(SourceArn=arn("moves-dlq"))["TaskHandle"]
    wait_until(lambda: latest_task(cloud, arn("moves-dlq"))["Status"] == "COMPLETED", "the task completes")

    # Then every message is back in the source queue, as a new message with its attributes, and none parked
    task = latest_task(cloud, arn("moves-dlq"))
    assert task["ApproximateNumberOfMessagesMoved"] == 3 and task["ApproximateNumberOfMessagesToMove"] == 3
    assert "TaskHandle" not in task and handle
    assert depth(cloud, dlq) == 0
    messages = sqs.receive_message(
        QueueUrl=source, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
    )["Messages"]
    assert sorted(m["Body"] for m in messages) == ["a", "b", "c"]
    assert all(m["MessageAttributes"]["k"]["StringValue"] == m["Body"] for m in messages)
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in messages} == {"1"}


def test_a_move_task_keeps_to_its_rate_and_can_be_cancelled(cloud: Cloud) -> None:
    # Given ten parked messages
    sqs = cloud.client("sqs")
    _, dlq = queue_with_dlq(cloud, "slow")
    for index in range(10):
        sqs.send_message(QueueUrl=dlq, MessageBody=str(index))

    # When a task moves them at one message a second and is cancelled after its first message
    handle = sqs.start_message_move_task(SourceArn=arn("slow-dlq"), MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]
    wait_until(
        lambda: latest_task(cloud, arn("slow-dlq"))["ApproximateNumberOfMessagesMoved"] >= 1, "one moved"
    )
    running = latest_task(cloud, arn("slow-dlq"))
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    time.sleep(1.5)  # a step that was due would have moved another message by now

    # Then it ran with its rate and its handle, and stopped where it was cancelled
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle
    assert running["MaxNumberOfMessagesPerSecond"] == 1
    task = latest_task(cloud, arn("slow-dlq"))
    assert task["Status"] == "CANCELLED" and task["ApproximateNumberOfMessagesMoved"] == moved
    assert depth(cloud, dlq) == 10 - moved
    # (one message a second: ten would take nine seconds; cancelled, the rest stay parked)
    assert moved < 10


def test_move_tasks_refuse_what_aws_refuses(cloud: Cloud) -> None:
    # Given a queue that is no DLQ, a DLQ with a task running, and an unknown queue
    sqs = cloud.client("sqs")
    source, dlq = queue_with_dlq(cloud, "refuse")
    for index in range(5):
        sqs.send_message(QueueUrl=dlq, MessageBody=str(index))
    handle = sqs.start_message_move_task(SourceArn=arn("refuse-dlq"), MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]

    def error(call: Any, **kwargs: Any) -> str:
        with pytest.raises(ClientError) as raised:
            call(**kwargs)
        return str(raised.value.response["Error"]["Code"])

    # When each is asked for, Then each is refused with AWS's error
    assert error(sqs.start_message_move_task, SourceArn=arn("refuse")) == "InvalidParameterValue"
    assert error(sqs.start_message_move_task, SourceArn=arn("nowhere")) == "ResourceNotFoundException"
    assert "UnsupportedOperation" in error(sqs.start_message_move_task, SourceArn=arn("refuse-dlq"))
    assert (
        error(sqs.start_message_move_task, SourceArn=arn("refuse-dlq"), MaxNumberOfMessagesPerSecond=501)
        == "InvalidParameterValue"
    )
    assert error(sqs.cancel_message_move_task, TaskHandle="bm90LWEtdGFzaw==") == "ResourceNotFoundException"
    sqs.cancel_message_move_task(TaskHandle=handle)
    assert depth(cloud, source) + depth(cloud, dlq) == 5  # nothing lost by the refusals or the cancel
