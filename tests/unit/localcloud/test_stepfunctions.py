"""Tests for localcloud's Step Functions emulation on moto's ASL interpreter."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.core import Settings, Trace
from localcloud.stepfunctions import StepFunctionsEmulation

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/sfn"
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
# Fast-mode deadlines never drop below this many real seconds in these tests.
MIN_DEADLINE = 0.25


# -- fixtures and helpers ----------------------------------------------------------------------
_CLIENTS: dict[str, Any] = {}


def _client(service: str) -> Any:
    """One client per service for the whole module: building one costs ~40 ms, and mock_aws
    intercepts every client, whenever it was built."""
    if service not in _CLIENTS:
        _CLIENTS[service] = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        ).client(service)
    return _CLIENTS[service]


@pytest.fixture
def trace() -> Trace:
    return Trace()


@pytest.fixture
def emulation(trace: Trace) -> Iterator[StepFunctionsEmulation]:
    emulation = StepFunctionsEmulation(Settings(fast=True), trace, min_deadline=MIN_DEADLINE)
    with emulation.installed_in():
        yield emulation


@pytest.fixture
def sfn(emulation: StepFunctionsEmulation) -> Iterator[Any]:
    with mock_aws(config=MOTO_CONFIG):
        yield _client("stepfunctions")


@pytest.fixture
def plain_sfn() -> Iterator[Any]:
    """moto as it is: no emulation installed."""
    with mock_aws(config=MOTO_CONFIG):
        yield _client("stepfunctions")


def _machine(sfn: Any, name: str, states: dict[str, Any], *, kind: str = "STANDARD", **top: Any) -> str:
    # _task() ends a state; one given a Next continues instead.
    states = {key: _drop_end_if_next(state) for key, state in states.items()}
    definition = {"StartAt": next(iter(states)), "States": states, **top}
    response = sfn.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(definition), type=kind)
    return str(response["stateMachineArn"])


def _drop_end_if_next(state: dict[str, Any]) -> dict[str, Any]:
    if "Next" in state:
        return {key: value for key, value in state.items() if key != "End"}
    return state


def _task(resource: str, parameters: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, "End": True, **fields}
    if parameters is not None:
        state["Parameters"] = parameters
    return state


def _finish(sfn: Any, execution_arn: str, *, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.01)


def _run(sfn: Any, machine_arn: str, payload: Any = None, **kwargs: Any) -> dict[str, Any]:
    started = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps(payload or {}), **kwargs)
    return _finish(sfn, started["executionArn"])


def _output(described: dict[str, Any]) -> Any:
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["output"])


def _executions(sfn: Any, machine_arn: str) -> list[dict[str, Any]]:
    return list(sfn.list_executions(stateMachineArn=machine_arn)["executions"])


def _history_types(sfn: Any, execution_arn: str) -> list[str]:
    return [event["type"] for event in sfn.get_execution_history(executionArn=execution_arn)["events"]]


def _receive(sqs: Any, queue_url: str, *, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages", [])
        if messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            return dict(messages[0])
        time.sleep(0.01)
    raise AssertionError(f"no message on {queue_url}")


def _child_machines(sfn: Any) -> tuple[str, str]:
    """A child that echoes its input, and one that fails with Boom."""
    echo = _machine(sfn, "echo", {"Echo": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": True}})
    boom = _machine(sfn, "boom", {"Fail": {"Type": "Fail", "Error": "Boom", "Cause": "child broke"}})
    return echo, boom


# -- CONTRACT: moto as it is -------------------------------------------------------------------
# These tests run plain moto and assert the bugs this emulation mends are still there. When one
# fails, moto changed: check whether the matching patch in localcloud/stepfunctions.py is still
# needed (or still right) and update both.
@pytest.mark.parametrize("suffix", ["", ".sync", ".sync:2"])
def test_contract_plain_moto_fails_nested_executions_on_parameter_names(plain_sfn: Any, suffix: str) -> None:
    # Given plain moto and a parent that starts a child, as the docs write it
    echo, _ = _child_machines(plain_sfn)
    parent = _machine(
        plain_sfn,
        "parent",
        {"Start": _task(f"arn:aws:states:::states:startExecution{suffix}", {"StateMachineArn": echo})},
    )

    # When it runs
    described = _run(plain_sfn, parent)

    # Then botocore rejects the un-normalised PascalCase parameter: States.Runtime 'StateMachineArn'
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert "'StateMachineArn'" in described["cause"]


def test_contract_plain_moto_names_nameless_executions_none(plain_sfn: Any) -> None:
    # Given plain moto and a state machine
    machine = _machine(plain_sfn, "pass", {"P": {"Type": "Pass", "End": True}})

    # When it is started without a name
    arn = plain_sfn.start_execution(stateMachineArn=machine)["executionArn"]

    # Then moto named it "None" (so a second nameless start collides)
    assert arn.endswith(":None")
    _finish(plain_sfn, arn)
    with pytest.raises(plain_sfn.exceptions.ExecutionAlreadyExists):
        plain_sfn.start_execution(stateMachineArn=machine)


def test_contract_plain_moto_has_no_start_sync_execution(plain_sfn: Any) -> None:
    # Given plain moto and an EXPRESS state machine
    machine = _machine(plain_sfn, "express", {"P": {"Type": "Pass", "End": True}}, kind="EXPRESS")

    # When StartSyncExecution is called, Then moto does not implement it
    with pytest.raises(plain_sfn.exceptions.ClientError, match="Not yet implemented"):
        plain_sfn.start_sync_execution(stateMachineArn=machine)


# -- nested executions -------------------------------------------------------------------------
def test_start_execution_fires_and_forgets_with_object_input(sfn: Any) -> None:
    # Given a parent that starts a child with an object Input and no Name
    echo, _ = _child_machines(sfn)
    parent = _machine(
        sfn,
        "parent",
        {
            "Start": _task(
                "arn:aws:states:::states:startExecution",
                {"StateMachineArn": echo, "Input": {"orderId.$": "$.orderId"}},
            )
        },
    )

    # When it runs
    output = _output(_run(sfn, parent, {"orderId": "o-1"}))

    # Then its output is StartExecution's response, and the child ran with the input under a UUID name
    assert set(output) == {"ExecutionArn", "StartDate"}
    assert isinstance(output["StartDate"], int)
    child = _finish(sfn, output["ExecutionArn"])
    assert _output(child) == {"got": {"orderId": "o-1"}}
    assert len(child["name"]) == 36


def test_start_execution_passes_a_string_input_as_is(sfn: Any) -> None:
    # Given a parent whose Input is already a JSON string
    echo, _ = _child_machines(sfn)
    parent = _machine(
        sfn,
        "parent",
        {
            "Start": _task(
                "arn:aws:states:::states:startExecution.sync:2",
                {"StateMachineArn": echo, "Input": '{"raw": true}', "Name": "child-1"},
            )
        },
    )

    # When it runs, Then the child got that JSON and the given name
    output = _output(_run(sfn, parent))
    assert output["Output"] == {"got": {"raw": True}}
    assert output["Name"] == "child-1"


def test_sync_waits_for_the_child_and_returns_describe_execution_with_output_as_a_string(sfn: Any) -> None:
    # Given a parent that runs a child with .sync
    echo, _ = _child_machines(sfn)
    parent = _machine(
        sfn,
        "parent",
        {
            "Start": _task(
                "arn:aws:states:::states:startExecution.sync", {"StateMachineArn": echo, "Input": {"n": 1}}
            )
        },
    )

    # When it runs
    output = _output(_run(sfn, parent))

    # Then its output is the child's DescribeExecution in Step Functions' casing, Output a string
    assert output["Status"] == "SUCCEEDED"
    assert output["StateMachineArn"] == echo
    assert json.loads(output["Output"]) == {"got": {"n": 1}}
    assert json.loads(output["Input"]) == {"n": 1}
    assert {"ExecutionArn", "Name", "StartDate", "StopDate"} <= set(output)


def test_sync2_returns_the_child_output_as_json(sfn: Any) -> None:
    # Given a parent that runs a child with .sync:2 and uses its output
    echo, _ = _child_machines(sfn)
    parent = _machine(
        sfn,
        "parent",
        {
            "Start": {
                **_task(
                    "arn:aws:states:::states:startExecution.sync:2",
                    {"StateMachineArn": echo, "Input": {"n": 2}},
                ),
                "OutputPath": "$.Output.got",
            }
        },
    )

    # When it runs, Then the child's output arrived parsed
    assert _output(_run(sfn, parent)) == {"n": 2}


@pytest.mark.parametrize("suffix", [".sync", ".sync:2"])
def test_a_failing_child_fails_the_parent_task_and_is_caught(sfn: Any, suffix: str) -> None:
    # Given a parent that runs a failing child and catches States.TaskFailed into a compensation
    _, boom = _child_machines(sfn)
    parent = _machine(
        sfn,
        "parent",
        {
            "Fulfil": _task(
                f"arn:aws:states:::states:startExecution{suffix}",
                {"StateMachineArn": boom},
                Catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Compensate"}],
            ),
            "Compensate": {"Type": "Pass", "Result": "compensated", "ResultPath": "$.result", "End": True},
        },
    )

    # When it runs
    output = _output(_run(sfn, parent, {"orderId": "o-1"}))

    # Then the catch got States.TaskFailed with the child's DescribeExecution as the cause
    assert output["result"] == "compensated"
    assert output["error"]["Error"] == "States.TaskFailed"
    cause = json.loads(output["error"]["Cause"])
    assert cause["Status"] == "FAILED"
    assert cause["Error"] == "Boom"
    assert cause["Cause"] == "child broke"
    assert ":execution:boom:" in cause["ExecutionArn"]


def test_a_failing_child_is_retried_by_the_parent_quickly_in_fast_mode(sfn: Any) -> None:
    # Given a parent that retries a failing child after 30 s, then fails
    _, boom = _child_machines(sfn)
    parent = _machine(
        sfn,
        "parent",
        {
            "Fulfil": _task(
                "arn:aws:states:::states:startExecution.sync",
                {"StateMachineArn": boom},
                Retry=[{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 30, "MaxAttempts": 1}],
            )
        },
    )

    # When it runs
    started = time.monotonic()
    described = _run(sfn, parent)

    # Then the child ran twice and the parent failed with States.TaskFailed, well within a second
    assert time.monotonic() - started < 3
    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    assert len(_executions(sfn, boom)) == 2


def test_nameless_executions_get_unique_names(sfn: Any) -> None:
    # Given a state machine
    machine = _machine(sfn, "pass", {"P": {"Type": "Pass", "End": True}})

    # When it is started twice without a name
    first = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    _finish(sfn, first)
    second = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    # Then both ran, under different UUID names
    assert first != second
    assert _finish(sfn, second)["status"] == "SUCCEEDED"
    assert not first.endswith(":None")


# -- fast mode and AWS timings -----------------------------------------------------------------
def test_fast_mode_waits_take_a_fraction_of_their_seconds(sfn: Any) -> None:
    # Given a machine that waits 60 s, a path's 120 s, and until a timestamp 2 minutes ahead (twice)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    machine = _machine(
        sfn,
        "waits",
        {
            "Seconds": {"Type": "Wait", "Seconds": 60, "Next": "SecondsPath"},
            "SecondsPath": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Timestamp"},
            "Timestamp": {"Type": "Wait", "Timestamp": later, "Next": "TimestampPath"},
            "TimestampPath": {"Type": "Wait", "TimestampPath": "$.until", "End": True},
        },
    )

    # When it runs in fast mode
    started = time.monotonic()
    described = _run(sfn, machine, {"wait": 120, "until": later})

    # Then it succeeded in well under 3 s (AWS: about 7 minutes)
    assert described["status"] == "SUCCEEDED"
    assert time.monotonic() - started < 3


def test_fast_mode_retry_backoff_is_compressed(sfn: Any) -> None:
    # Given a conditional write that always fails, retried 3 times from 10 s doubling (AWS: 70 s)
    dynamodb = _client("dynamodb")
    _orders_table(dynamodb)
    dynamodb.put_item(TableName="orders", Item={"id": {"S": "o-1"}})
    machine = _machine(
        sfn,
        "retry",
        {
            "Put": _task(
                "arn:aws:states:::dynamodb:putItem",
                {
                    "TableName": "orders",
                    "Item": {"id": {"S": "o-1"}},
                    "ConditionExpression": "attribute_not_exists(id)",
                },
                Retry=[
                    {
                        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                        "IntervalSeconds": 10,
                        "BackoffRate": 2,
                        "MaxAttempts": 3,
                        "MaxDelaySeconds": 60,
                    }
                ],
            )
        },
    )

    # When it runs in fast mode
    started = time.monotonic()
    described = _run(sfn, machine)

    # Then all four attempts ran and the execution failed, within a fraction of a second
    assert time.monotonic() - started < 3
    assert described["error"] == "DynamoDB.ConditionalCheckFailedException"
    assert _history_types(sfn, described["executionArn"]).count("TaskScheduled") == 4


def test_without_fast_mode_a_wait_keeps_aws_timing(trace: Trace) -> None:
    # Given the emulation with AWS timings and a one-second Wait
    emulation = StepFunctionsEmulation(Settings(fast=False), trace)
    with emulation.installed_in(), mock_aws(config=MOTO_CONFIG):
        sfn = _client("stepfunctions")
        machine = _machine(sfn, "wait", {"W": {"Type": "Wait", "Seconds": 1, "End": True}})

        # When it runs
        started = time.monotonic()
        described = _run(sfn, machine)

        # Then it took the whole second
        assert described["status"] == "SUCCEEDED"
        assert time.monotonic() - started >= 1


def test_delay_and_deadline_scale_only_in_fast_mode(trace: Trace) -> None:
    # Given an emulation in fast mode and one with AWS timings
    fast = StepFunctionsEmulation(Settings(fast=True, fast_factor=0.001), trace, min_deadline=1.0)
    slow = StepFunctionsEmulation(Settings(fast=False), trace)

    # Then waits scale fully, deadlines scale but keep the floor (or their own value, if shorter)
    assert fast.delay(60) == pytest.approx(0.06)
    assert fast.deadline(3600) == pytest.approx(3.6)
    assert fast.deadline(60) == 1.0
    assert fast.deadline(0.5) == 0.5
    assert slow.delay(60) == 60
    assert slow.deadline(60) == 60


def test_execution_timeout_is_honoured_scaled_in_fast_mode(sfn: Any) -> None:
    # Given a machine with TimeoutSeconds 60 that waits an hour
    machine = _machine(sfn, "slow", {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}, TimeoutSeconds=60)

    # When it runs in fast mode
    started = time.monotonic()
    described = _run(sfn, machine)

    # Then it timed out before the wait ended
    assert described["status"] == "TIMED_OUT"
    assert time.monotonic() - started < 3


# -- task tokens -------------------------------------------------------------------------------
@pytest.fixture
def queue(sfn: Any) -> tuple[Any, str]:
    sqs = _client("sqs")
    return sqs, str(sqs.create_queue(QueueName="payments")["QueueUrl"])


def _payment_machine(sfn: Any, queue_url: str, *, then: dict[str, Any] | None = None, **fields: Any) -> str:
    wait = _task(
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token", "orderId.$": "$.orderId"}},
        **fields,
    )
    return _machine(sfn, "payment", {"AwaitPayment": wait, **(then or {})})


def _start_and_take_token(sfn: Any, machine: str, queue: tuple[Any, str]) -> tuple[str, str]:
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"orderId": "o-1"}))["executionArn"]
    body = json.loads(_receive(*queue)["Body"])
    assert body["orderId"] == "o-1"
    return arn, str(body["token"])


def test_task_token_success_resumes_the_execution(sfn: Any, queue: tuple[Any, str]) -> None:
    # Given an execution waiting for a payment token sent to SQS
    arn, token = _start_and_take_token(sfn, _payment_machine(sfn, queue[1]), queue)

    # When the token is returned with success
    sfn.send_task_success(taskToken=token, output=json.dumps({"paid": True}))

    # Then the execution resumes with that output
    assert _output(_finish(sfn, arn)) == {"paid": True}


def test_task_token_failure_fails_the_task_with_error_and_cause(sfn: Any, queue: tuple[Any, str]) -> None:
    # Given an execution waiting for a payment token
    arn, token = _start_and_take_token(sfn, _payment_machine(sfn, queue[1]), queue)

    # When the token is returned with a failure
    sfn.send_task_failure(taskToken=token, error="Payment.Declined", cause="card expired")

    # Then the execution fails with that error and cause
    described = _finish(sfn, arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "Payment.Declined"
    assert described["cause"] == "card expired"


def test_each_retry_of_a_token_task_gets_a_new_token(sfn: Any, queue: tuple[Any, str]) -> None:
    # Given a payment wait retried once when the payment is declined
    machine = _payment_machine(
        sfn, queue[1], Retry=[{"ErrorEquals": ["Payment.Declined"], "IntervalSeconds": 5, "MaxAttempts": 1}]
    )
    arn, first = _start_and_take_token(sfn, machine, queue)

    # When the first attempt is declined and the retry's token answered with success
    sfn.send_task_failure(taskToken=first, error="Payment.Declined", cause="card expired")
    second = json.loads(_receive(*queue)["Body"])["token"]
    sfn.send_task_success(taskToken=second, output=json.dumps({"paid": True}))

    # Then the retry waited on its own token, and the execution succeeded
    assert second != first
    assert _output(_finish(sfn, arn)) == {"paid": True}


def test_missed_heartbeat_fails_as_heartbeat_timeout(sfn: Any, queue: tuple[Any, str]) -> None:
    # Given a payment wait with a 60 s heartbeat and nobody sending heartbeats
    machine = _payment_machine(sfn, queue[1], HeartbeatSeconds=60)
    arn, _ = _start_and_take_token(sfn, machine, queue)

    # When the heartbeat window passes (fast mode: the floor, MIN_DEADLINE)
    described = _finish(sfn, arn)

    # Then the task fails with States.HeartbeatTimeout
    assert described["status"] == "FAILED"
    assert described["error"] == "States.HeartbeatTimeout"
    assert "TaskTimedOut" in _history_types(sfn, arn)


def test_a_catch_on_states_timeout_also_catches_a_missed_heartbeat(sfn: Any, queue: tuple[Any, str]) -> None:
    # Given a payment wait with a heartbeat and a Catch on States.Timeout
    machine = _payment_machine(
        sfn,
        queue[1],
        then={"Cancel": {"Type": "Pass", "End": True}},
        HeartbeatSeconds=60,
        Catch=[{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "Cancel"}],
    )
    arn, _ = _start_and_take_token(sfn, machine, queue)

    # When the heartbeat is missed, Then the catch took it, naming the heartbeat
    assert _output(_finish(sfn, arn))["error"]["Error"] == "States.HeartbeatTimeout"


def test_heartbeats_keep_the_task_alive(sfn: Any, queue: tuple[Any, str]) -> None:
    # Given a payment wait with a 60 s heartbeat (fast mode: MIN_DEADLINE real seconds)
    arn, token = _start_and_take_token(sfn, _payment_machine(sfn, queue[1], HeartbeatSeconds=60), queue)

    # When heartbeats come for longer than one window, then success
    for _ in range(6):
        time.sleep(MIN_DEADLINE / 3)
        sfn.send_task_heartbeat(taskToken=token)
    sfn.send_task_success(taskToken=token, output=json.dumps({"paid": True}))

    # Then the execution succeeded
    assert _output(_finish(sfn, arn)) == {"paid": True}


def test_task_timeout_fails_as_states_timeout(sfn: Any, queue: tuple[Any, str]) -> None:
    # Given a payment wait with TimeoutSeconds 300 and nobody answering
    arn, _ = _start_and_take_token(sfn, _payment_machine(sfn, queue[1], TimeoutSeconds=300), queue)

    # When the (scaled) timeout passes, Then the task fails with States.Timeout
    described = _finish(sfn, arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"


def test_a_heartbeat_task_keeps_aws_default_timeout(emulation: StepFunctionsEmulation) -> None:
    # Given a task with HeartbeatSeconds and no TimeoutSeconds
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    definition = {
        "StartAt": "Pay",
        "States": {
            "Pay": _task("arn:aws:states:::sqs:sendMessage.waitForTaskToken", {}, HeartbeatSeconds=300)
        },
    }

    # When moto parses it
    program: Any = AmazonStateLanguageParser.parse(json.dumps(definition))[0]

    # Then its timeout is AWS's 99999999 s, not moto's 60 s (shorter than the heartbeat)
    assert program.states.states["Pay"].timeout.timeout_seconds == 99999999


# -- integrations ------------------------------------------------------------------------------
LambdaHandler = Callable[[dict[str, Any]], tuple[Any, bool]]


@pytest.fixture
def lambdas(sfn: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, LambdaHandler], str]:
    """Deploys functions whose invocations run a Python callable through moto's _invoke_lambda."""
    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

    handlers: dict[str, LambdaHandler] = {}

    def invoke_lambda(function: Any, event: Any = None) -> tuple[str, bool, str]:
        # moto hands over the parsed payload (or the string "{}" for an empty one).
        if isinstance(event, str | bytes):
            event = json.loads(event)
        result, errored = handlers[function.function_name](event)
        return json.dumps(result), errored, ""

    # use_docker=False echoes payloads; take moto's full path down to _invoke_lambda instead.
    monkeypatch.setattr(LambdaSimpleBackend, "invoke", LambdaBackend.invoke)
    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke_lambda)
    client = _client("lambda")
    iam = _client("iam")
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "")

    def deploy(name: str, handler: LambdaHandler) -> str:
        handlers[name] = handler
        code = {"ZipFile": buffer.getvalue()}
        response = client.create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code=code
        )
        return str(response["FunctionArn"])

    return deploy


def test_lambda_invoke_wraps_the_result_in_payload(
    sfn: Any, lambdas: Callable[[str, LambdaHandler], str]
) -> None:
    # Given a function that prices an order and a task invoking it
    arn = lambdas("price", lambda event: ({"total": event["qty"] * 5}, False))
    machine = _machine(
        sfn,
        "price",
        {
            "Price": _task(
                "arn:aws:states:::lambda:invoke", {"FunctionName": arn, "Payload": {"qty.$": "$.qty"}}
            )
        },
    )

    # When it runs, Then the result is under Payload with Lambda's response fields
    output = _output(_run(sfn, machine, {"qty": 3}))
    assert output["Payload"] == {"total": 15}
    assert output["StatusCode"] == 200


def test_lambda_error_type_drives_retry_and_catch(
    sfn: Any, lambdas: Callable[[str, LambdaHandler], str]
) -> None:
    # Given a function that fails twice with OutOfStock, and a task retrying then catching it
    calls: list[dict[str, Any]] = []

    def reserve(event: dict[str, Any]) -> tuple[Any, bool]:
        calls.append(event)
        return {"errorType": "OutOfStock", "errorMessage": "sku a"}, True

    arn = lambdas("reserve", reserve)
    machine = _machine(
        sfn,
        "reserve",
        {
            "Reserve": _task(
                "arn:aws:states:::lambda:invoke",
                {"FunctionName": arn, "Payload.$": "$"},
                Retry=[{"ErrorEquals": ["OutOfStock"], "IntervalSeconds": 5, "MaxAttempts": 1}],
                Catch=[{"ErrorEquals": ["OutOfStock"], "ResultPath": "$.error", "Next": "Refund"}],
            ),
            "Refund": {"Type": "Pass", "End": True},
        },
    )

    # When it runs
    output = _output(_run(sfn, machine, {"orderId": "o-1"}))

    # Then it was retried once, then caught under the Lambda's errorType
    assert len(calls) == 2
    assert output["error"]["Error"] == "OutOfStock"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "sku a"


def _orders_table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName="orders",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_dynamodb_put_update_get_and_a_failing_condition(sfn: Any) -> None:
    # Given an orders table and a workflow writing, updating, reading, then writing again conditionally
    dynamodb = _client("dynamodb")
    _orders_table(dynamodb)
    key = {"id": {"S.$": "$.orderId"}}
    put = {
        "TableName": "orders",
        "Item": {"id": {"S.$": "$.orderId"}, "status": {"S": "NEW"}},
        "ConditionExpression": "attribute_not_exists(id)",
    }
    machine = _machine(
        sfn,
        "orders",
        {
            "Create": {**_task("arn:aws:states:::dynamodb:putItem", put), "ResultPath": None, "Next": "Pay"},
            "Pay": {
                **_task(
                    "arn:aws:states:::dynamodb:updateItem",
                    {
                        "TableName": "orders",
                        "Key": key,
                        "UpdateExpression": "SET #s = :paid",
                        "ConditionExpression": "#s = :new",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":paid": {"S": "PAID"}, ":new": {"S": "NEW"}},
                        "ReturnValues": "ALL_NEW",
                    },
                ),
                "ResultPath": "$.updated",
                "Next": "Read",
            },
            "Read": {
                **_task("arn:aws:states:::dynamodb:getItem", {"TableName": "orders", "Key": key}),
                "ResultPath": "$.read",
                "Next": "CreateAgain",
            },
            "CreateAgain": _task(
                "arn:aws:states:::dynamodb:putItem",
                put,
                ResultPath=None,
                Catch=[
                    {
                        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                        "ResultPath": "$.dup",
                        "Next": "Duplicate",
                    }
                ],
            ),
            "Duplicate": {"Type": "Pass", "End": True},
        },
    )

    # When it runs
    output = _output(_run(sfn, machine, {"orderId": "o-1"}))

    # Then each call reached DynamoDB and the repeated create failed on its condition
    assert output["updated"]["Attributes"]["status"] == {"S": "PAID"}
    assert output["read"]["Item"] == {"id": {"S": "o-1"}, "status": {"S": "PAID"}}
    assert output["dup"]["Error"] == "DynamoDB.ConditionalCheckFailedException"


def test_events_put_events_goes_through_the_events_backend(sfn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a spy on EventsBackend.put_events, the method localcloud replaces
    from moto.events.models import EventsBackend

    seen: list[list[dict[str, Any]]] = []
    original = EventsBackend.put_events

    def put_events(backend: Any, entries: list[dict[str, Any]]) -> Any:
        seen.append(entries)
        return original(backend, entries)

    monkeypatch.setattr(EventsBackend, "put_events", put_events)
    machine = _machine(
        sfn,
        "emit",
        {
            "Emit": _task(
                "arn:aws:states:::events:putEvents",
                {
                    "Entries": [
                        {
                            "Source": "orders",
                            "DetailType": "OrderCancelled",
                            "Detail": {"orderId.$": "$.orderId"},
                        }
                    ]
                },
            )
        },
    )

    # When a workflow puts an event
    described = _run(sfn, machine, {"orderId": "o-1"})

    # Then the entry reached EventsBackend.put_events with its Detail as JSON and the ARNs as Resources
    assert _output(described)["FailedEntryCount"] == 0
    [[entry]] = seen
    assert entry["Source"] == "orders"
    assert entry["DetailType"] == "OrderCancelled"
    assert json.loads(entry["Detail"]) == {"orderId": "o-1"}
    assert entry["Resources"] == [machine, described["executionArn"]]


def test_aws_sdk_eventbridge_put_events_reaches_the_events_backend(
    sfn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a spy on EventsBackend.put_events and a workflow using the aws-sdk integration
    from moto.events.models import EventsBackend

    seen: list[list[dict[str, Any]]] = []
    original = EventsBackend.put_events

    def put_events(backend: Any, entries: list[dict[str, Any]]) -> Any:
        seen.append(entries)
        return original(backend, entries)

    monkeypatch.setattr(EventsBackend, "put_events", put_events)
    entry = {"Source": "orders", "DetailType": "OrderPlaced", "Detail": {"orderId.$": "$.orderId"}}
    machine = _machine(
        sfn, "emit", {"Emit": _task("arn:aws:states:::aws-sdk:eventbridge:putEvents", {"Entries": [entry]})}
    )

    # When it runs, Then "eventbridge" reached the events API, the object Detail as JSON
    assert _output(_run(sfn, machine, {"orderId": "o-1"}))["FailedEntryCount"] == 0
    assert json.loads(seen[0][0]["Detail"]) == {"orderId": "o-1"}


def test_aws_sdk_s3_put_object(sfn: Any) -> None:
    # Given a bucket and a workflow writing a text object and a JSON object
    s3 = _client("s3")
    s3.create_bucket(Bucket="receipts")
    machine = _machine(
        sfn,
        "receipt",
        {
            "Text": {
                **_task(
                    "arn:aws:states:::aws-sdk:s3:putObject",
                    {"Bucket": "receipts", "Key": "o-1.txt", "Body.$": "$.text"},
                ),
                "ResultPath": "$.put",
                "Next": "Json",
            },
            "Json": _task(
                "arn:aws:states:::aws-sdk:s3:putObject",
                {"Bucket": "receipts", "Key": "o-1.json", "Body": {"orderId.$": "$.orderId"}},
            ),
        },
    )

    # When it runs
    output = _output(_run(sfn, machine, {"orderId": "o-1", "text": "thank you"}))

    # Then both objects are there: the string as is, the object as JSON
    assert "ETag" in output
    assert s3.get_object(Bucket="receipts", Key="o-1.txt")["Body"].read() == b"thank you"
    assert json.loads(s3.get_object(Bucket="receipts", Key="o-1.json")["Body"].read()) == {"orderId": "o-1"}


def test_sqs_send_message_and_sns_publish(sfn: Any) -> None:
    # Given a queue, a topic delivering to a second queue, and a workflow sending to both
    sqs = _client("sqs")
    sns = _client("sns")
    direct = sqs.create_queue(QueueName="direct")["QueueUrl"]
    fanout = sqs.create_queue(QueueName="fanout")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=fanout, AttributeNames=["QueueArn"])["Attributes"]
    topic = sns.create_topic(Name="orders")["TopicArn"]
    raw = {"RawMessageDelivery": "true"}
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=attributes["QueueArn"], Attributes=raw)
    machine = _machine(
        sfn,
        "notify",
        {
            "Send": {
                **_task(
                    "arn:aws:states:::sqs:sendMessage",
                    {"QueueUrl": direct, "MessageBody": {"orderId.$": "$.orderId"}},
                ),
                "ResultPath": "$.sent",
                "Next": "Publish",
            },
            "Publish": {
                **_task(
                    "arn:aws:states:::sns:publish", {"TopicArn": topic, "Message": {"orderId.$": "$.orderId"}}
                ),
                "ResultPath": "$.published",
            },
        },
    )

    # When it runs
    output = _output(_run(sfn, machine, {"orderId": "o-1"}))

    # Then both messages arrived as JSON, and the results carry the message ids
    assert "MessageId" in output["sent"] and "MD5OfMessageBody" in output["sent"]
    assert "MessageId" in output["published"]
    assert json.loads(_receive(sqs, direct)["Body"]) == {"orderId": "o-1"}
    assert json.loads(_receive(sqs, fanout)["Body"]) == {"orderId": "o-1"}


def test_map_with_items_path_and_item_selector_and_parallel(sfn: Any) -> None:
    # Given a workflow mapping over an order's lines and running two branches in parallel
    machine = _machine(
        sfn,
        "lines",
        {
            "Lines": {
                "Type": "Map",
                "ItemsPath": "$.order.lines",
                "ItemSelector": {
                    "orderId.$": "$.orderId",
                    "sku.$": "$$.Map.Item.Value.sku",
                    "index.$": "$$.Map.Item.Index",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Line",
                    "States": {"Line": {"Type": "Pass", "End": True}},
                },
                "ResultPath": "$.lines",
                "Next": "Both",
            },
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "invoice", "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "ship", "End": True}}},
                ],
                "ResultPath": "$.branches",
                "End": True,
            },
        },
    )

    # When it runs
    output = _output(_run(sfn, machine, {"orderId": "o-1", "order": {"lines": [{"sku": "a"}, {"sku": "b"}]}}))

    # Then each line got the selected fields, and both branches' results came back in order
    assert output["lines"] == [
        {"orderId": "o-1", "sku": "a", "index": 0},
        {"orderId": "o-1", "sku": "b", "index": 1},
    ]
    assert output["branches"] == ["invoice", "ship"]


def test_choice_decision_tree(sfn: Any) -> None:
    # Given a decision tree on amount, country and an optional coupon
    machine = _machine(
        sfn,
        "decide",
        {
            "Decide": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.amount", "NumericGreaterThan": 1000},
                            {"Not": {"Variable": "$.country", "StringEquals": "NL"}},
                        ],
                        "Next": "Review",
                    },
                    {"Variable": "$.coupon", "IsPresent": True, "Next": "Discount"},
                ],
                "Default": "Accept",
            },
            "Review": {"Type": "Pass", "Result": "review", "End": True},
            "Discount": {"Type": "Pass", "Result": "discount", "End": True},
            "Accept": {"Type": "Pass", "Result": "accept", "End": True},
        },
    )

    # When orders of each kind run, Then each takes its branch
    assert _output(_run(sfn, machine, {"amount": 2000, "country": "DE"})) == "review"
    assert _output(_run(sfn, machine, {"amount": 2000, "country": "NL", "coupon": "X"})) == "discount"
    assert _output(_run(sfn, machine, {"amount": 10, "country": "NL"})) == "accept"


# -- server mode -------------------------------------------------------------------------------
def test_server_mode_sends_the_interpreters_calls_to_localclouds_port(
    trace: Trace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given moto served over HTTP on some port (no mock_aws) and the emulation told that port
    import socket

    from botocore.config import Config
    from moto.core.config import default_user_config
    from moto.server import ThreadedMotoServer

    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    emulation = StepFunctionsEmulation(Settings(fast=True, port=port), trace)
    try:
        with emulation.installed_in():
            # botocore puts StartSyncExecution's "sync-" host prefix before an IP endpoint.
            sfn = boto3.session.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
            ).client(
                "stepfunctions",
                endpoint_url=f"http://127.0.0.1:{port}",
                config=Config(inject_host_prefix=False),
            )
            echo = _machine(sfn, "echo", {"E": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": True}})
            express = _machine(sfn, "express", {"E": {"Type": "Pass", "End": True}}, kind="EXPRESS")
            parent = _machine(
                sfn,
                "parent",
                {
                    "Run": _task(
                        "arn:aws:states:::states:startExecution.sync:2",
                        {"StateMachineArn": echo, "Input.$": "$"},
                    )
                },
            )

            # When a nested execution runs, and an EXPRESS one synchronously
            output = _output(_run(sfn, parent, {"n": 1}))
            synced = sfn.start_sync_execution(stateMachineArn=express, input=json.dumps({"n": 2}))

            # Then the interpreter reached moto on that port (moto's default is 5000)
            assert output["Output"] == {"got": {"n": 1}}
            assert json.loads(synced["output"]) == {"n": 2}
    finally:
        server.stop()


# -- EXPRESS -----------------------------------------------------------------------------------
def test_express_machines_run_with_start_execution_and_start_sync_execution(sfn: Any) -> None:
    # Given an EXPRESS state machine and a STANDARD one
    express = _machine(
        sfn, "express", {"P": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": True}}, kind="EXPRESS"
    )
    standard = _machine(sfn, "standard", {"P": {"Type": "Pass", "End": True}})

    # When the EXPRESS one is started both ways
    started = _run(sfn, express, {"n": 1})
    synced = sfn.start_sync_execution(stateMachineArn=express, input=json.dumps({"n": 2}))

    # Then both ran; StartSyncExecution answered with the finished execution
    assert _output(started) == {"got": {"n": 1}}
    assert synced["status"] == "SUCCEEDED"
    assert json.loads(synced["output"]) == {"got": {"n": 2}}
    assert synced["stateMachineArn"] == express
    assert synced["stopDate"] >= synced["startDate"]
    # And StartSyncExecution refuses a STANDARD machine, as AWS does
    with pytest.raises(sfn.exceptions.ClientError, match="StateMachineTypeNotSupported"):
        sfn.start_sync_execution(stateMachineArn=standard)


def test_start_sync_execution_reports_a_failure(sfn: Any) -> None:
    # Given an EXPRESS state machine that fails
    machine = _machine(sfn, "fails", {"F": {"Type": "Fail", "Error": "Nope", "Cause": "why"}}, kind="EXPRESS")

    # When it runs synchronously, Then the answer carries the failure
    synced = sfn.start_sync_execution(stateMachineArn=machine, name="run-1")
    assert (synced["status"], synced["error"], synced["cause"]) == ("FAILED", "Nope", "why")
    assert synced["name"] == "run-1"
    assert "output" not in synced


# -- trace and lifecycle -----------------------------------------------------------------------
def test_trace_shows_each_execution_start_and_end(sfn: Any, trace: Trace) -> None:
    # Given a parent whose .sync child fails, uncaught
    _, boom = _child_machines(sfn)
    run = _task("arn:aws:states:::states:startExecution.sync", {"StateMachineArn": boom})
    parent = _machine(sfn, "parent", {"Run": run})

    # When it runs
    described = _run(sfn, parent, name="order-1")

    # Then the trace has both executions' starts and ends, the failures with error and cause
    records = trace.records(kind="states")
    by_step = {(r["state_machine"], r["status"]): r for r in records}
    assert described["status"] == "FAILED"
    assert by_step[("parent", "RUNNING")]["execution"] == "order-1"
    assert by_step[("parent", "RUNNING")]["message"] == "parent order-1 started (STANDARD)"
    assert ("boom", "RUNNING") in by_step
    assert by_step[("boom", "FAILED")]["error"] == "Boom"
    assert by_step[("boom", "FAILED")]["cause"] == "child broke"
    failed_parent = by_step[("parent", "FAILED")]
    assert failed_parent["error"] == "States.TaskFailed"
    assert failed_parent["message"].startswith("parent order-1 FAILED: States.TaskFailed {")
    assert [r["status"] for r in records if r["state_machine"] == "parent"] == ["RUNNING", "FAILED"]


def test_uninstall_restores_moto(trace: Trace) -> None:
    # Given moto's own methods
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.responses import StepFunctionResponse

    before = StateTaskService.__dict__["_normalise_parameters"]
    emulation = StepFunctionsEmulation(Settings(fast=True), trace)

    # When the emulation is installed, then uninstalled
    emulation.install()
    assert emulation.installed
    assert StateTaskService.__dict__["_normalise_parameters"] is not before
    assert hasattr(StepFunctionResponse, "start_sync_execution")
    emulation.uninstall()

    # Then moto is as it was, and a second emulation may install
    assert not emulation.installed
    assert StateTaskService.__dict__["_normalise_parameters"] is before
    assert not hasattr(StepFunctionResponse, "start_sync_execution")
    other = StepFunctionsEmulation(Settings(), trace)
    with other.installed_in(), pytest.raises(RuntimeError):
        emulation.install()
