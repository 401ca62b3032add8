"""Tests for callback tasks: task tokens, heartbeats and task timeouts, as AWS names and times them.

The workflow sends its token to an SQS queue, as a payment service would get it; the test plays
that service over the API.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from tests.unit.localcloud import sfn_helpers
from tests.unit.localcloud.running_cloud import Cloud
from tests.unit.localcloud.sfn_helpers import (
    MIN_TASK_DEADLINE,
    finish,
    history_types,
    machine,
    output,
    receive,
    task,
)

cloud = sfn_helpers.cloud
sfn = sfn_helpers.sfn


@pytest.fixture
def payments(cloud: Cloud, request: pytest.FixtureRequest) -> Payments:
    """A payment queue and machine names of this test's own."""
    name = re.sub(r"[^A-Za-z0-9-]", "-", request.node.name)[-60:]
    sqs = cloud.client("sqs")
    return Payments(sqs, str(sqs.create_queue(QueueName=name)["QueueUrl"]), name)


class Payments:
    def __init__(self, sqs: Any, queue_url: str, name: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.name = name

    def machine(self, sfn: Any, *, then: dict[str, Any] | None = None, **fields: Any) -> str:
        """A workflow that sends its token and order to the queue, then waits for the payment."""
        wait = task(
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            {
                "QueueUrl": self.queue_url,
                "MessageBody": {"token.$": "$$.Task.Token", "orderId.$": "$.orderId"},
            },
            **fields,
        )
        return machine(sfn, self.name, {"AwaitPayment": wait, **(then or {})})

    def next_token(self) -> str:
        body = json.loads(receive(self.sqs, self.queue_url)["Body"])
        assert body["orderId"] == "o-1"
        return str(body["token"])

    def start(self, sfn: Any, machine_arn: str) -> tuple[str, str]:
        """Starts an execution for order o-1 and takes the token it sent."""
        arn = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps({"orderId": "o-1"}))[
            "executionArn"
        ]
        return arn, self.next_token()


def test_task_token_success_resumes_the_execution(sfn: Any, payments: Payments) -> None:
    # Given an execution waiting for a payment token sent to SQS
    arn, token = payments.start(sfn, payments.machine(sfn))

    # When the token is returned with success
    sfn.send_task_success(taskToken=token, output=json.dumps({"paid": True}))

    # Then the execution resumes with that output
    assert output(finish(sfn, arn)) == {"paid": True}


def test_task_token_failure_fails_the_task_with_error_and_cause(sfn: Any, payments: Payments) -> None:
    # Given an execution waiting for a payment token
    arn, token = payments.start(sfn, payments.machine(sfn))

    # When the token is returned with a failure
    sfn.send_task_failure(taskToken=token, error="Payment.Declined", cause="card expired")

    # Then the execution fails with that error and cause
    described = finish(sfn, arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "Payment.Declined"
    assert described["cause"] == "card expired"


def test_each_retry_of_a_token_task_gets_a_new_token(sfn: Any, payments: Payments) -> None:
    # Given a payment wait retried once when the payment is declined
    retried = payments.machine(
        sfn, Retry=[{"ErrorEquals": ["Payment.Declined"], "IntervalSeconds": 5, "MaxAttempts": 1}]
    )
    arn, first = payments.start(sfn, retried)

    # When the first attempt is declined and the retry's token answered with success
    sfn.send_task_failure(taskToken=first, error="Payment.Declined", cause="card expired")
    second = payments.next_token()
    sfn.send_task_success(taskToken=second, output=json.dumps({"paid": True}))

    # Then the retry waited on its own token, and the execution succeeded
    assert second != first
    assert output(finish(sfn, arn)) == {"paid": True}


def test_missed_heartbeat_fails_as_heartbeat_timeout(sfn: Any, payments: Payments) -> None:
    # Given a payment wait with a 60 s heartbeat and nobody sending heartbeats
    arn, _ = payments.start(sfn, payments.machine(sfn, HeartbeatSeconds=60))

    # When the heartbeat window passes (fast mode: the floor, MIN_TASK_DEADLINE)
    described = finish(sfn, arn)

    # Then the task fails with States.HeartbeatTimeout
    assert described["status"] == "FAILED"
    assert described["error"] == "States.HeartbeatTimeout"
    assert "TaskTimedOut" in history_types(sfn, arn)


def test_a_catch_on_states_timeout_also_catches_a_missed_heartbeat(sfn: Any, payments: Payments) -> None:
    # Given a payment wait with a heartbeat and a Catch on States.Timeout
    caught = payments.machine(
        sfn,
        then={"Cancel": {"Type": "Pass", "End": True}},
        HeartbeatSeconds=60,
        Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Cancel"}],
    )
    arn, _ = payments.start(sfn, caught)

    # When the heartbeat is missed, Then the catch took it, naming the heartbeat
    assert output(finish(sfn, arn))["error"]["Error"] == "States.HeartbeatTimeout"


def test_heartbeats_keep_the_task_alive(sfn: Any, payments: Payments) -> None:
    # Given a payment wait with a 2000 s heartbeat (fast mode: 2 real seconds) and no TimeoutSeconds
    arn, token = payments.start(sfn, payments.machine(sfn, HeartbeatSeconds=2000))

    # When heartbeats come every quarter window for 3 s: past the window, and past moto's default
    # TimeoutSeconds (60 s; fast mode: MIN_TASK_DEADLINE), then success
    until = time.monotonic() + 3 * MIN_TASK_DEADLINE
    while time.monotonic() < until:
        time.sleep(0.5)
        sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output=json.dumps({"paid": True}))

    # Then the execution succeeded
    assert output(finish(sfn, arn)) == {"paid": True}


def test_task_timeout_fails_as_states_timeout(sfn: Any, payments: Payments) -> None:
    # Given a payment wait with TimeoutSeconds 300 and nobody answering
    arn, _ = payments.start(sfn, payments.machine(sfn, TimeoutSeconds=300))

    # When the (scaled) timeout passes, Then the task fails with States.Timeout
    described = finish(sfn, arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"


def test_a_heartbeat_task_keeps_aws_default_timeout(cloud: Cloud) -> None:
    # Given a running localcloud and a task with HeartbeatSeconds and no TimeoutSeconds
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    definition = {
        "StartAt": "Pay",
        "States": {
            "Pay": task("arn:aws:states:::sqs:sendMessage.waitForTaskToken", {}, HeartbeatSeconds=300)
        },
    }

    # When moto parses it
    program: Any = AmazonStateLanguageParser.parse(json.dumps(definition))[0]

    # Then its timeout is AWS's 99999999 s, not moto's 60 s (shorter than the heartbeat)
    assert program.states.states["Pay"].timeout.timeout_seconds == 99999999
