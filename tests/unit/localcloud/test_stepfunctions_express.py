"""Tests for EXPRESS state machines and StartSyncExecution, which moto does not have and localcloud adds."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.unit.localcloud import sfn_helpers
from tests.unit.localcloud.running_cloud import Cloud, wait_until
from tests.unit.localcloud.sfn_helpers import (
    WAIT_SECONDS,
    machine,
    output,
    run,
    task,
)

cloud = sfn_helpers.cloud
sfn = sfn_helpers.sfn


def test_express_machines_run_with_start_execution_and_start_sync_execution(sfn: Any) -> None:
    # Given an EXPRESS state machine and a STANDARD one
    express = machine(
        sfn, "express", {"P": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": True}}, kind="EXPRESS"
    )
    standard = machine(sfn, "standard", {"P": {"Type": "Pass", "End": True}})

    # When the EXPRESS one is started both ways
    started = run(sfn, express, {"n": 1})
    synced = sfn.start_sync_execution(stateMachineArn=express, input=json.dumps({"n": 2}))

    # Then both ran; StartSyncExecution answered with the finished execution
    assert output(started) == {"got": {"n": 1}}
    assert synced["status"] == "SUCCEEDED"
    assert json.loads(synced["output"]) == {"got": {"n": 2}}
    assert synced["stateMachineArn"] == express
    assert synced["stopDate"] >= synced["startDate"]
    # And StartSyncExecution refuses a STANDARD machine, as AWS does
    with pytest.raises(sfn.exceptions.ClientError, match="StateMachineTypeNotSupported"):
        sfn.start_sync_execution(stateMachineArn=standard)


def test_start_sync_execution_reports_a_failure(sfn: Any) -> None:
    # Given an EXPRESS state machine that fails
    fails = machine(sfn, "fails", {"F": {"Type": "Fail", "Error": "Nope", "Cause": "why"}}, kind="EXPRESS")

    # When it runs synchronously, Then the answer carries the failure
    synced = sfn.start_sync_execution(stateMachineArn=fails, name="run-1")
    assert (synced["status"], synced["error"], synced["cause"]) == ("FAILED", "Nope", "why")
    assert synced["name"] == "run-1"
    assert "output" not in synced


def test_start_sync_execution_answers_with_the_output_of_a_lambda_task(cloud: Cloud, sfn: Any) -> None:
    # Given an EXPRESS machine whose task invokes a function that waits at a gate, calling localcloud's SSM
    arn = cloud.create_function("gated", "lambda_gate", timeout=120)
    express = machine(
        sfn,
        "express-lambda",
        {
            "Invoke": task(
                "arn:aws:states:::lambda:invoke",
                {"FunctionName": arn, "Payload": {"gate.$": "$.gate", "n.$": "$.n"}},
                OutputPath="$.Payload",
            )
        },
        kind="EXPRESS",
    )

    # When it is started synchronously, and the gate opens while the call waits for the execution
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(
            sfn.start_sync_execution,
            stateMachineArn=express,
            input=json.dumps({"gate": "/gate/sync", "n": 7}),
        )
        wait_until(lambda: cloud.usage("gated")["in_flight"] == 1, "the handler to run")
        answered_early = answer.done()
        listed = cloud.client("stepfunctions").list_state_machines()["stateMachines"]
        cloud.open_gate("/gate/sync")
        synced = answer.result(timeout=WAIT_SECONDS)

    # Then other calls were answered while it waited, and its answer carries the handler's output
    assert not answered_early
    assert express in {m["stateMachineArn"] for m in listed}
    assert synced["status"] == "SUCCEEDED"
    assert json.loads(synced["output"])["n"] == 7


def test_the_interpreters_calls_reach_this_localcloud_on_its_own_port(cloud: Cloud, sfn: Any) -> None:
    # Given a localcloud on a port of its own (not moto's 5000), an echo machine, an EXPRESS one and a
    # parent running the echo one with .sync:2
    assert cloud.cloud.settings.port != 5000
    echo = machine(sfn, "echo", {"E": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": True}})
    express = machine(sfn, "express-pass", {"E": {"Type": "Pass", "End": True}}, kind="EXPRESS")
    parent = machine(
        sfn,
        "parent",
        {
            "Run": task(
                "arn:aws:states:::states:startExecution.sync:2", {"StateMachineArn": echo, "Input.$": "$"}
            )
        },
    )

    # When a nested execution runs, and an EXPRESS one synchronously
    nested = output(run(sfn, parent, {"n": 1}))
    synced = sfn.start_sync_execution(stateMachineArn=express, input=json.dumps({"n": 2}))

    # Then the interpreter's own calls (StartExecution, DescribeExecution) reached this localcloud
    assert nested["Output"] == {"got": {"n": 1}}
    assert json.loads(synced["output"]) == {"n": 2}
