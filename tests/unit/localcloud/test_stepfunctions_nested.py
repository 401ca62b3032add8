"""Tests for executions that start executions (`states:startExecution`, `.sync`, `.sync:2`), and names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.localcloud import sfn_helpers
from tests.unit.localcloud.running_cloud import Cloud
from tests.unit.localcloud.sfn_helpers import (
    child_machines,
    executions,
    finish,
    machine,
    output,
    run,
    task,
)

cloud = sfn_helpers.cloud
sfn = sfn_helpers.sfn


def test_start_execution_fires_and_forgets_with_object_input(sfn: Any) -> None:
    # Given a parent that starts a child with an object Input and no Name
    echo, _ = child_machines(sfn, "fire")
    parent = machine(
        sfn,
        "parent-fire",
        {
            "Start": task(
                "arn:aws:states:::states:startExecution",
                {"StateMachineArn": echo, "Input": {"orderId.$": "$.orderId"}},
            )
        },
    )

    # When it runs
    result = output(run(sfn, parent, {"orderId": "o-1"}))

    # Then its output is StartExecution's response, and the child ran with the input under a UUID name
    assert set(result) == {"ExecutionArn", "StartDate"}
    assert isinstance(result["StartDate"], int)
    child = finish(sfn, result["ExecutionArn"])
    assert output(child) == {"got": {"orderId": "o-1"}}
    assert len(child["name"]) == 36


def test_start_execution_passes_a_string_input_as_is(sfn: Any) -> None:
    # Given a parent whose Input is already a JSON string
    echo, _ = child_machines(sfn, "string")
    parent = machine(
        sfn,
        "parent-string",
        {
            "Start": task(
                "arn:aws:states:::states:startExecution.sync:2",
                {"StateMachineArn": echo, "Input": '{"raw": true}', "Name": "child-1"},
            )
        },
    )

    # When it runs, Then the child got that JSON and the given name
    result = output(run(sfn, parent))
    assert result["Output"] == {"got": {"raw": True}}
    assert result["Name"] == "child-1"


def test_sync_waits_for_the_child_and_returns_describe_execution_with_output_as_a_string(sfn: Any) -> None:
    # Given a parent that runs a child with .sync
    echo, _ = child_machines(sfn, "sync")
    parent = machine(
        sfn,
        "parent-sync",
        {
            "Start": task(
                "arn:aws:states:::states:startExecution.sync", {"StateMachineArn": echo, "Input": {"n": 1}}
            )
        },
    )

    # When it runs
    result = output(run(sfn, parent))

    # Then its output is the child's DescribeExecution in Step Functions' casing, Output a string
    assert result["Status"] == "SUCCEEDED"
    assert result["StateMachineArn"] == echo
    assert json.loads(result["Output"]) == {"got": {"n": 1}}
    assert json.loads(result["Input"]) == {"n": 1}
    assert {"ExecutionArn", "Name", "StartDate", "StopDate"} <= set(result)


def test_sync2_returns_the_child_output_as_json(sfn: Any) -> None:
    # Given a parent that runs a child with .sync:2 and uses its output
    echo, _ = child_machines(sfn, "sync2")
    parent = machine(
        sfn,
        "parent-sync2",
        {
            "Start": {
                **task(
                    "arn:aws:states:::states:startExecution.sync:2",
                    {"StateMachineArn": echo, "Input": {"n": 2}},
                ),
                "OutputPath": "$.Output.got",
            }
        },
    )

    # When it runs, Then the child's output arrived parsed
    assert output(run(sfn, parent)) == {"n": 2}


def test_sync2_gets_a_string_output_of_the_child_as_a_string(sfn: Any) -> None:
    # Given a child whose whole output is a string, run by a .sync:2 parent
    done = machine(sfn, "done", {"Done": {"Type": "Pass", "Result": "done", "End": True}})
    parent = machine(
        sfn,
        "parent-done",
        {"Start": task("arn:aws:states:::states:startExecution.sync:2", {"StateMachineArn": done})},
    )

    # When it runs
    described = run(sfn, parent)

    # Then the parent succeeded with the string, and the child describes its output as JSON
    result = output(described)
    assert result["Output"] == "done"
    assert finish(sfn, result["ExecutionArn"])["output"] == '"done"'


@pytest.mark.parametrize("suffix", [".sync", ".sync:2"])
def test_a_failing_child_fails_the_parent_task_and_is_caught(sfn: Any, suffix: str) -> None:
    # Given a parent that runs a failing child and catches States.TaskFailed into a compensation
    name = f"caught{suffix.replace(':', '')}"
    _, boom = child_machines(sfn, name)
    parent = machine(
        sfn,
        f"parent-{name}",
        {
            "Fulfil": task(
                f"arn:aws:states:::states:startExecution{suffix}",
                {"StateMachineArn": boom},
                Catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Compensate"}],
            ),
            "Compensate": {"Type": "Pass", "Result": "compensated", "ResultPath": "$.result", "End": True},
        },
    )

    # When it runs
    result = output(run(sfn, parent, {"orderId": "o-1"}))

    # Then the catch got States.TaskFailed with the child's DescribeExecution as the cause
    assert result["result"] == "compensated"
    assert result["error"]["Error"] == "States.TaskFailed"
    cause = json.loads(result["error"]["Cause"])
    assert cause["Status"] == "FAILED"
    assert cause["Error"] == "Boom"
    assert cause["Cause"] == "child broke"
    assert f":execution:boom-{name}:" in cause["ExecutionArn"]


def test_a_failing_child_is_retried_by_the_parent_quickly_in_fast_mode(sfn: Any) -> None:
    # Given a parent that retries a failing child after 1000 s (fast mode: 1 s), then fails
    _, boom = child_machines(sfn, "retried")
    parent = machine(
        sfn,
        "parent-retried",
        {
            "Fulfil": task(
                "arn:aws:states:::states:startExecution.sync",
                {"StateMachineArn": boom},
                Retry=[{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1000, "MaxAttempts": 1}],
            )
        },
    )

    # When it runs (finish() gives up long before AWS's 1000 s)
    described = run(sfn, parent)

    # Then the child ran twice and the parent failed with States.TaskFailed
    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    assert len(executions(sfn, boom)) == 2


def test_nameless_executions_get_unique_names(sfn: Any) -> None:
    # Given a state machine
    pass_machine = machine(sfn, "pass", {"P": {"Type": "Pass", "End": True}})

    # When it is started twice without a name
    first = sfn.start_execution(stateMachineArn=pass_machine)["executionArn"]
    finish(sfn, first)
    second = sfn.start_execution(stateMachineArn=pass_machine)["executionArn"]

    # Then both ran, under different UUID names
    assert first != second
    assert finish(sfn, second)["status"] == "SUCCEEDED"
    assert not first.endswith(":None")
    assert len(first.rsplit(":", 1)[1]) == 36


def test_trace_shows_each_execution_start_and_end(cloud: Cloud, sfn: Any) -> None:
    # Given a parent whose .sync child fails, uncaught
    _, boom = child_machines(sfn, "traced")
    parent = machine(
        sfn,
        "parent-traced",
        {"Run": task("arn:aws:states:::states:startExecution.sync", {"StateMachineArn": boom})},
    )
    since = cloud.cloud.trace.last

    # When it runs
    described = run(sfn, parent, name="order-1")

    # Then the trace has both executions' starts and ends, the failures with error and cause
    records = cloud.cloud.trace.records(since=since, kind="states")
    by_step = {(r["state_machine"], r["status"]): r for r in records}
    assert described["status"] == "FAILED"
    assert by_step[("parent-traced", "RUNNING")]["execution"] == "order-1"
    assert by_step[("parent-traced", "RUNNING")]["message"] == "parent-traced order-1 started (STANDARD)"
    assert ("boom-traced", "RUNNING") in by_step
    assert by_step[("boom-traced", "FAILED")]["error"] == "Boom"
    assert by_step[("boom-traced", "FAILED")]["cause"] == "child broke"
    failed_parent = by_step[("parent-traced", "FAILED")]
    assert failed_parent["error"] == "States.TaskFailed"
    assert failed_parent["message"].startswith("parent-traced order-1 FAILED: States.TaskFailed {")
    assert [r["status"] for r in records if r["state_machine"] == "parent-traced"] == ["RUNNING", "FAILED"]
