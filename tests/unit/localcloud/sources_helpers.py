"""Shared by the event source tests: a poller over moto's in-process backends, a fake function, helpers."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.core.clock import Clock
from localcloud.core.scheduler import Scheduler
from localcloud.core.settings import ACCOUNT_ID, REGION, Settings
from localcloud.core.trace import Trace
from localcloud.lambda_.runtime import Throttled
from localcloud.sources.poller import EventSourcePoller

# The longest any test waits for something that should happen (a loaded 2-core machine is slow).
WAIT_SECONDS = 60.0


@dataclass
class Outcome:
    payload: Any = None
    error: dict[str, Any] | None = None


def never(event: dict[str, Any]) -> bool:
    return False


@dataclass
class FakeFunction:
    """Stands in for the Lambda runtime: records every event and answers with a scripted outcome.

    `throttle(event)` says whether an invocation finds the function at its concurrency limit: it then
    raises Throttled, as the runtime does, and the handler never sees the event (kept in `throttled`).
    """

    script: Callable[[dict[str, Any]], Outcome] = field(default=lambda event: Outcome())
    throttle: Callable[[dict[str, Any]], bool] = field(default=never)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    throttled: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, function_arn: str, event: dict[str, Any]) -> Outcome:
        snapshot = json.loads(json.dumps(event))
        with self._lock:
            if self.throttle(snapshot):
                self.throttled.append((function_arn, snapshot))
                raise Throttled(function_arn.rsplit(":", 1)[-1], "ReservedConcurrentExecutions")
            self.calls.append((function_arn, snapshot))
        return self.script(event)

    @property
    def batches(self) -> list[list[dict[str, Any]]]:
        with self._lock:
            return [event["Records"] for _, event in self.calls]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for batch in self.batches for record in batch]

    @property
    def throttled_batches(self) -> list[list[dict[str, Any]]]:
        with self._lock:
            return [event["Records"] for _, event in self.throttled]


def throttle_first(count: int) -> Callable[[dict[str, Any]], bool]:
    """A `FakeFunction.throttle`: the first `count` invocations are throttled, the rest run."""
    remaining = [count]

    def throttle(event: dict[str, Any]) -> bool:
        if remaining[0] > 0:
            remaining[0] -= 1
            return True
        return False

    return throttle


class Gate:
    """A `FakeFunction.script` that holds every call until the test releases it, counting calls at once."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._held: deque[threading.Event] = deque()
        self._in_flight = 0
        self.peak = 0  # the most calls that were running at the same moment

    def __call__(self, event: dict[str, Any]) -> Outcome:
        release = threading.Event()
        with self._condition:
            self._held.append(release)
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
            self._condition.notify_all()
        try:
            release.wait(WAIT_SECONDS)
        finally:
            with self._condition:
                self._in_flight -= 1
        return Outcome()

    @property
    def held(self) -> int:
        """Calls started and not released yet."""
        with self._condition:
            return len(self._held)

    def release_one(self) -> None:
        with self._condition:
            self._held.popleft().set()

    def release_all(self) -> None:
        with self._condition:
            while self._held:
                self._held.popleft().set()


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
        assert self.scheduler.wait_idle(timeout=WAIT_SECONDS, within=within)


@contextmanager
def running_cloud(*, fast: bool = True, **scheduler_options: Any) -> Iterator[Cloud]:
    """moto in-process, and a started poller invoking a FakeFunction (AWS's timing unless `fast`)."""
    with mock_aws(config={"lambda": {"use_docker": False}}):
        clock, scheduler, trace = Clock(), Scheduler(**scheduler_options), Trace()
        function = FakeFunction()
        poller = EventSourcePoller(
            Settings(fast=fast),
            clock,
            scheduler,
            trace,
            function,
            ACCOUNT_ID,
            REGION,
            ttl_sweep_interval=3600,  # sweeps here come from clock.advance(); see the periodic test
        )
        poller.start()
        try:
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
        finally:
            poller.stop()
            scheduler.stop()


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    with running_cloud() as running:
        yield running


# --- helpers ----------------------------------------------------------------------------------------------


def create_function(client: Any, name: str = "consumer") -> str:
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


def create_queue(cloud: Cloud, name: str, **attributes: Any) -> tuple[str, str]:
    url = cloud.sqs.create_queue(
        QueueName=name, Attributes={key: str(value) for key, value in attributes.items()}
    )["QueueUrl"]
    arn = cloud.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def queue_depth(cloud: Cloud, url: str) -> int:
    attributes = cloud.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def drain(cloud: Cloud, url: str) -> list[str]:
    response = cloud.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [message["Body"] for message in response.get("Messages", [])]


def bodies(batches: list[list[dict[str, Any]]]) -> list[list[str]]:
    return [[record["body"] for record in batch] for batch in batches]


def create_table(cloud: Cloud, name: str = "items", *, ttl: bool = False) -> str:
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


def put(cloud: Cloud, pk: str, table: str = "items", **attributes: dict[str, str]) -> None:
    cloud.dynamodb.put_item(TableName=table, Item={"pk": {"S": pk}, **attributes})


def streams_client() -> Any:
    # botocore's default DynamoDB Streams endpoint is not routed by moto 5.2.5 ("Not yet implemented").
    return boto3.client(
        "dynamodbstreams", region_name=REGION, endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com"
    )


def keys_of(batch: list[dict[str, Any]]) -> list[str]:
    return [record["dynamodb"]["Keys"]["pk"]["S"] for record in batch]


def failing_on(key: str, message: str = "x") -> Callable[[dict[str, Any]], Outcome]:
    """A function script that fails (errorType Boom) on any stream batch holding the item `key`."""
    return lambda event: (
        Outcome(error={"errorType": "Boom", "errorMessage": message})
        if key in keys_of(event["Records"])
        else Outcome()
    )


def on_failure_messages(cloud: Cloud, url: str) -> list[dict[str, Any]]:
    return [json.loads(body) for body in drain(cloud, url)]


def outcomes(cloud: Cloud) -> list[str]:
    return [record.get("outcome", "") for record in cloud.trace.records(kind="esm")]
