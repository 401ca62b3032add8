"""Shared by the Step Functions tests: a localcloud for them, state machines, and waiting for executions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.unit.localcloud.running_cloud import REGION, WAIT_SECONDS, Cloud, running_cloud

ROLE = "arn:aws:iam::123456789012:role/sfn"
# Fast-mode task deadlines (TimeoutSeconds, HeartbeatSeconds) never drop below this many real
# seconds in these tests: a test waiting for one to pass waits this long, one beating it has this slack.
MIN_TASK_DEADLINE = 1.0


@contextmanager
def sfn_cloud(state_dir: Path, **settings: Any) -> Iterator[Cloud]:
    """A fast-mode localcloud for Step Functions tests (`running_cloud` with the floors above)."""
    with running_cloud(state_dir, **{"min_task_deadline": MIN_TASK_DEADLINE, **settings}) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    """One `sfn_cloud` per test module (a module that needs other settings defines its own)."""
    with sfn_cloud(tmp_path_factory.mktemp("state")) as running:
        yield running


@pytest.fixture(scope="module")
def sfn(cloud: Cloud) -> Any:
    """The module's Step Functions client (StartSyncExecution included)."""
    return states_client(cloud)


def states_client(cloud: Cloud) -> Any:
    """A Step Functions client of the cloud that can call StartSyncExecution too.

    botocore sends StartSyncExecution to the host prefixed with "sync-" (sync-127.0.0.1), which
    resolves nowhere: a client of a local endpoint leaves the prefix out.
    """
    return boto3.client(
        "stepfunctions",
        endpoint_url=cloud.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(inject_host_prefix=False, read_timeout=WAIT_SECONDS, retries={"total_max_attempts": 1}),
    )


def machine(sfn: Any, name: str, states: dict[str, Any], *, kind: str = "STANDARD", **top: Any) -> str:
    """Creates a state machine starting at its first state; `top` adds fields such as TimeoutSeconds."""
    # task() ends a state; one given a Next continues instead.
    states = {key: _drop_end_if_next(state) for key, state in states.items()}
    definition = {"StartAt": next(iter(states)), "States": states, **top}
    response = sfn.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(definition), type=kind)
    return str(response["stateMachineArn"])


def _drop_end_if_next(state: dict[str, Any]) -> dict[str, Any]:
    if "Next" in state:
        return {key: value for key, value in state.items() if key != "End"}
    return state


def task(resource: str, parameters: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, "End": True, **fields}
    if parameters is not None:
        state["Parameters"] = parameters
    return state


def finish(sfn: Any, execution_arn: str, *, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
    """DescribeExecution once the execution is no longer RUNNING."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING after {timeout} s"
        time.sleep(0.01)


def run(sfn: Any, machine_arn: str, payload: Any = None, **kwargs: Any) -> dict[str, Any]:
    started = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps(payload or {}), **kwargs)
    return finish(sfn, started["executionArn"])


def output(described: dict[str, Any]) -> Any:
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["output"])


def executions(sfn: Any, machine_arn: str) -> list[dict[str, Any]]:
    return list(sfn.list_executions(stateMachineArn=machine_arn)["executions"])


def history_types(sfn: Any, execution_arn: str) -> list[str]:
    return [event["type"] for event in sfn.get_execution_history(executionArn=execution_arn)["events"]]


def receive(sqs: Any, queue_url: str, *, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
    """The next message on the queue, deleted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
        if messages.get("Messages"):
            message = messages["Messages"][0]
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            return dict(message)
    raise AssertionError(f"no message on {queue_url}")


def child_machines(sfn: Any, suffix: str) -> tuple[str, str]:
    """A child that echoes its input (echo-<suffix>), and one that fails with Boom (boom-<suffix>)."""
    echo = machine(
        sfn, f"echo-{suffix}", {"Echo": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": True}}
    )
    boom = machine(sfn, f"boom-{suffix}", {"Fail": {"Type": "Fail", "Error": "Boom", "Cause": "child broke"}})
    return echo, boom


@contextmanager
def calls_of(owner: type, name: str, key: Callable[..., Any]) -> Iterator[list[Any]]:
    """Wraps `owner.name` for the block: the list it yields gets `key(*args, **kwargs)` of every call."""
    original = owner.__dict__[name]
    static = isinstance(original, staticmethod)
    function = original.__func__ if static else original
    seen: list[Any] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append(key(*args, **kwargs))  # list.append is atomic: callers may be any thread
        return function(*args, **kwargs)

    setattr(owner, name, staticmethod(counting) if static else counting)
    try:
        yield seen
    finally:
        setattr(owner, name, original)
