"""Tests for fair time: a task's TimeoutSeconds counts while its work runs, not while it waits in line here.

This localcloud runs one execution environment per function, so an invocation may wait in
localcloud's own queue (on AWS, Lambda would scale out and start it at once).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.unit.localcloud import sfn_helpers
from tests.unit.localcloud.running_cloud import Cloud, wait_until
from tests.unit.localcloud.sfn_helpers import (
    WAIT_SECONDS,
    finish,
    history_types,
    machine,
    output,
    run,
    sfn_cloud,
    task,
)

sfn = sfn_helpers.sfn

# A task's TimeoutSeconds of 1 stays 1 real second here (fast mode keeps deadlines up to this floor).
MIN_TASK_DEADLINE = 1.0
# How long the gate holds the function's only environment: several times the task's deadline.
HELD_SECONDS = 4.0


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with sfn_cloud(
        tmp_path_factory.mktemp("state"), sandboxes_per_function=1, min_task_deadline=MIN_TASK_DEADLINE
    ) as running:
        yield running


def invoking(sfn: Any, name: str, function_arn: str) -> str:
    """A machine whose one task invokes the function with the input, with TimeoutSeconds 1."""
    return machine(
        sfn,
        name,
        {
            "Invoke": task(
                "arn:aws:states:::lambda:invoke",
                {"FunctionName": function_arn, "Payload.$": "$"},
                TimeoutSeconds=1,
                OutputPath="$.Payload",
            )
        },
    )


def test_a_task_waiting_in_localclouds_queue_is_not_timed_out(cloud: Cloud, sfn: Any) -> None:
    # Given a function whose only environment is held at a gate by another invocation
    arn = cloud.create_function("gated", "lambda_gate", timeout=120)
    queued = invoking(sfn, "queued", arn)
    with ThreadPoolExecutor(1) as pool:
        holder = pool.submit(cloud.invoke, "gated", {"gate": "/gate/fair", "n": 1})
        wait_until(lambda: cloud.usage("gated")["running"] == 1, "the holder to run")

        # When a task with TimeoutSeconds 1 invokes it, waits in line for several times that, then runs
        execution = sfn.start_execution(stateMachineArn=queued, input='{"n": 2}')["executionArn"]
        wait_until(lambda: cloud.usage("gated")["waiting"] == 1, "the task's invocation to wait in line")
        time.sleep(HELD_SECONDS)
        still = sfn.describe_execution(executionArn=execution)
        still_running = still["status"]
        cloud.open_gate("/gate/fair")
        _, held = holder.result(timeout=WAIT_SECONDS)
        described = finish(sfn, execution)

    # Then the task was not failed while it waited: it ran once the environment was free, and succeeded
    assert held["n"] == 1
    assert still_running == "RUNNING", (still.get("error"), still.get("cause"), history_types(sfn, execution))
    assert output(described) == {"pid": held["pid"], "n": 2}
    assert "TaskTimedOut" not in history_types(sfn, execution)


def test_a_handler_running_past_the_tasks_timeout_fails_it_with_states_timeout(
    cloud: Cloud, sfn: Any
) -> None:
    # Given a warm function whose handler takes 5 s, and a task invoking it with TimeoutSeconds 1
    arn = cloud.create_function("slow", "lambda_sfn_tasks", "app.slow", timeout=120)
    cloud.invoke("slow", {"seconds": 0})
    slow = invoking(sfn, "slow", arn)

    # When it runs
    described = run(sfn, slow, {"seconds": 5})

    # Then the task timed out while the handler ran: States.Timeout, not queued time forgiven
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"
    assert "TaskTimedOut" in history_types(sfn, described["executionArn"])
