"""Tests for what localcloud does once instead of every time, and that executions sharing it stay apart.

A definition is parsed once for all its executions, and a `.sync` parent waits for its child
instead of asking after it every poll interval; executions of one definition running at once each
get their own result.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.unit.localcloud import sfn_helpers
from tests.unit.localcloud.running_cloud import Cloud
from tests.unit.localcloud.sfn_helpers import (
    calls_of,
    executions,
    finish,
    machine,
    output,
    receive,
    task,
)

cloud = sfn_helpers.cloud
sfn = sfn_helpers.sfn


def start_all(sfn: Any, machine_arn: str, inputs: list[Any]) -> list[str]:
    """Starts one execution per input, all at once; their ARNs in the inputs' order."""
    with ThreadPoolExecutor(len(inputs)) as pool:
        started = [
            pool.submit(sfn.start_execution, stateMachineArn=machine_arn, input=json.dumps(payload))
            for payload in inputs
        ]
        return [future.result()["executionArn"] for future in started]


def test_a_definition_is_parsed_once_however_many_executions_start(sfn: Any) -> None:
    # Given a state machine whose definition no other test has
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    marker = f"parsed-once-{uuid.uuid4()}"
    tagged = machine(
        sfn,
        "parsed-once",
        {"Tag": {"Type": "Pass", "Parameters": {"n.$": "$.n", "tag": marker}, "End": True}},
    )

    # When 8 executions start at once, and 4 more after them
    with calls_of(AmazonStateLanguageParser, "parse", key=lambda definition: definition) as parsed:
        first = start_all(sfn, tagged, [{"n": n} for n in range(8)])
        results = [output(finish(sfn, arn)) for arn in first]
        later = start_all(sfn, tagged, [{"n": n} for n in range(8, 12)])
        results += [output(finish(sfn, arn)) for arn in later]

    # Then all ran with their own input, and the definition was parsed for the first of them only
    assert results == [{"n": n, "tag": marker} for n in range(12)]
    assert len([definition for definition in parsed if marker in definition]) == 1


def test_a_sync2_parent_waits_for_its_child_without_polling(cloud: Cloud, sfn: Any) -> None:
    # Given a child that waits for a task token, and a parent running it with .sync:2
    from moto.stepfunctions.responses import StepFunctionResponse

    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName="child-tokens")["QueueUrl"]
    child = machine(
        sfn,
        "waiting-child",
        {
            "Await": task(
                "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
            )
        },
    )
    parent = machine(
        sfn,
        "waiting-parent",
        {
            "Run": task(
                "arn:aws:states:::states:startExecution.sync:2", {"StateMachineArn": child, "Input": {}}
            )
        },
    )

    # When the parent runs, and the child gets its token back after 2 s (200 poll intervals in fast mode)
    with calls_of(
        StepFunctionResponse, "describe_execution", key=lambda response: response._get_param("executionArn")
    ) as described:
        arn = sfn.start_execution(stateMachineArn=parent)["executionArn"]
        token = json.loads(receive(sqs, url)["Body"])["token"]
        time.sleep(2)
        while_running = list(described)
        sfn.send_task_success(taskToken=token, output=json.dumps({"paid": True}))
        result = output(finish(sfn, arn))
    [child_arn] = [execution["executionArn"] for execution in executions(sfn, child)]

    # Then the parent got the child's output, having described the child once it ended, not while it ran
    assert result["Output"] == {"paid": True}
    assert while_running.count(child_arn) <= 1
    assert described.count(child_arn) <= 2


def test_concurrent_executions_of_one_definition_each_get_their_own_output(cloud: Cloud, sfn: Any) -> None:
    # Given a workflow through Pass, Map, Choice and a Lambda task, all depending on the input
    price = cloud.create_function("price", "lambda_sfn_tasks", "app.price")
    order = machine(
        sfn,
        "order",
        {
            "Prepare": {
                "Type": "Pass",
                "Parameters": {"n.$": "$.n", "items.$": "$.items"},
                "Next": "Lines",
            },
            "Lines": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {"n.$": "$.n", "item.$": "$$.Map.Item.Value"},
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Add",
                    "States": {
                        "Add": {
                            "Type": "Pass",
                            "Parameters": {"value.$": "States.MathAdd($.item, $.n)"},
                            "End": True,
                        }
                    },
                },
                "ResultPath": "$.lines",
                "Next": "Kind",
            },
            "Kind": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 4, "Next": "Big"}],
                "Default": "Small",
            },
            "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.kind", "Next": "Price"},
            "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.kind", "Next": "Price"},
            "Price": task(
                "arn:aws:states:::lambda:invoke",
                {"FunctionName": price, "Payload": {"qty.$": "$.n"}},
                ResultSelector={"total.$": "$.Payload.total"},
                ResultPath="$.price",
            ),
        },
    )
    inputs = [{"n": n, "items": [10 * n, 10 * n + 1]} for n in range(8)]

    # When 8 executions with different inputs start at once
    results = [output(finish(sfn, arn)) for arn in start_all(sfn, order, inputs)]

    # Then each got the output of its own input
    assert results == [
        {
            "n": n,
            "items": [10 * n, 10 * n + 1],
            "lines": [{"value": 11 * n}, {"value": 11 * n + 1}],
            "kind": "big" if n >= 4 else "small",
            "price": {"total": 5 * n},
        }
        for n in range(8)
    ]
