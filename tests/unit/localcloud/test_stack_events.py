"""CloudFormation stacks made through the API send their status changes to EventBridge, as on AWS."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.localcloud.running_cloud import Cloud, running_cloud, wait_until

PATTERN = {"source": ["aws.cloudformation"], "detail-type": ["CloudFormation Stack Status Change"]}


def template(*, fifo_without_suffix: bool = False, queues: int = 1) -> str:
    properties = {"FifoQueue": True, "QueueName": "not-a-fifo-name"} if fifo_without_suffix else {}
    resources = {f"Queue{n}": {"Type": "AWS::SQS::Queue", "Properties": properties} for n in range(queues)}
    return json.dumps({"Resources": resources})


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(tmp_path_factory.mktemp("state")) as running:
        yield running


@pytest.fixture(scope="module")
def queue_url(cloud: Cloud) -> str:
    """A queue the rule for stack status changes delivers to."""
    sqs = cloud.client("sqs")
    url = str(sqs.create_queue(QueueName="stack-events")["QueueUrl"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = cloud.client("events")
    events.put_rule(Name="stack-status", EventPattern=json.dumps(PATTERN))
    events.put_targets(Rule="stack-status", Targets=[{"Id": "queue", "Arn": arn}])
    return url


def received(cloud: Cloud, url: str, count: int) -> list[dict[str, Any]]:
    """`count` messages from the queue, in the order it gives them."""
    sqs = cloud.client("sqs")
    messages: list[dict[str, Any]] = []

    def enough() -> bool:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            messages.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages) >= count

    wait_until(enough, f"{count} stack status events")
    cloud.settle()
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == [], "more events than expected"
    return messages


def statuses(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail"]["status-details"]["status"] for e in events]


def test_creating_and_deleting_a_stack_sends_each_status_in_order(cloud: Cloud, queue_url: str) -> None:
    # Given a rule for stack status changes delivering to a queue
    cloudformation = cloud.client("cloudformation")

    # When a stack is created, then deleted, through the CloudFormation API
    stack_id = cloudformation.create_stack(StackName="trial-1", TemplateBody=template())["StackId"]
    created = received(cloud, queue_url, 2)
    cloudformation.delete_stack(StackName="trial-1")
    deleted = received(cloud, queue_url, 2)

    # Then each status came as AWS's event, in the order the stack passed through them
    assert statuses(created) == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert statuses(deleted) == ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    first = created[0]
    assert (first["source"], first["detail-type"], first["resources"]) == (
        "aws.cloudformation",
        "CloudFormation Stack Status Change",
        [stack_id],
    )
    assert first["detail"] == {
        "stack-id": stack_id,
        "logical-resource-id": "trial-1",
        "status-details": {"status": "CREATE_IN_PROGRESS", "status-reason": "User Initiated"},
    }
    assert first["account"] == cloud.cloud.settings.account_id and first["region"] == "us-east-1"


def test_updating_a_stack_sends_its_update_statuses(cloud: Cloud, queue_url: str) -> None:
    # Given a stack
    cloudformation = cloud.client("cloudformation")
    cloudformation.create_stack(StackName="trial-2", TemplateBody=template())
    received(cloud, queue_url, 2)

    # When it is updated
    cloudformation.update_stack(StackName="trial-2", TemplateBody=template(queues=2))

    # Then the update's statuses came
    assert statuses(received(cloud, queue_url, 2)) == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]


def test_a_stack_whose_resource_fails_is_created_failed_and_rolled_back(cloud: Cloud, queue_url: str) -> None:
    # Given a template whose queue SQS refuses (a FIFO queue's name must end in .fifo)
    cloudformation = cloud.client("cloudformation")

    # When the stack is created
    stack_id = cloudformation.create_stack(
        StackName="trial-3", TemplateBody=template(fifo_without_suffix=True)
    )["StackId"]
    events = received(cloud, queue_url, 4)

    # Then the call succeeded, and the stack failed and rolled back as on AWS
    assert statuses(events) == [
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_COMPLETE",
    ]
    assert events[1]["detail"]["status-details"]["status-reason"]
    [stack] = cloudformation.describe_stacks(StackName=stack_id)["Stacks"]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"


def test_the_fault_switch_fails_a_stack_creation(cloud: Cloud, queue_url: str) -> None:
    # Given a fault on CloudFormation's CreateStack
    fault = {"service": "cloudformation", "operation": "CreateStack", "effect": "fail", "times": 1}
    fault["errorMessage"] = "Resource limit exceeded"
    request = urllib.request.Request(
        f"{cloud.endpoint}/_localcloud/faults", data=json.dumps([fault]).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=30).close()
    cloudformation = cloud.client("cloudformation")

    # When two stacks are created
    cloudformation.create_stack(StackName="trial-4", TemplateBody=template())
    failed = received(cloud, queue_url, 4)
    cloudformation.create_stack(StackName="trial-5", TemplateBody=template())
    created = received(cloud, queue_url, 2)

    # Then the first failed with the fault's reason and rolled back; the second was created
    assert statuses(failed) == [
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_COMPLETE",
    ]
    assert failed[1]["detail"]["status-details"]["status-reason"] == "Resource limit exceeded"
    assert statuses(created) == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    [stack] = cloudformation.describe_stacks(StackName="trial-4")["Stacks"]
    assert (stack["StackStatus"], stack.get("StackStatusReason")) == (
        "ROLLBACK_COMPLETE",
        "Resource limit exceeded",
    )
