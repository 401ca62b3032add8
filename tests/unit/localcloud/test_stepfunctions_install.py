"""Tests for what localcloud changes in moto's Step Functions: the bugs it mends, its patches, its timing.

No localcloud runs for the whole module: the contract tests need plain moto, and the others each
start their own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.core.clock import FairClock
from localcloud.core.patches import REGISTRY
from localcloud.core.settings import Settings
from localcloud.core.trace import Trace
from localcloud.stepfunctions.emulation import StepFunctionsEmulation
from tests.unit.localcloud.running_cloud import REGION, running_cloud
from tests.unit.localcloud.sfn_helpers import (
    child_machines,
    finish,
    machine,
    output,
    run,
    task,
)

MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
STEPFUNCTIONS_SETS = {
    "stepfunctions integrations",
    "stepfunctions api",
    "stepfunctions timing",
    "stepfunctions executions",
    "stepfunctions speed",
}


def emulation(settings: Settings) -> StepFunctionsEmulation:
    """An emulation as LocalCloud builds one; building it touches nothing of moto."""
    return StepFunctionsEmulation(settings, Trace(), fair_clock=FairClock(), app=lambda environ, respond: [])


@pytest.fixture
def plain_sfn() -> Iterator[Any]:
    """moto as it is: no localcloud running, so none of its patches installed."""
    assert not [s for s in REGISTRY.installed() if s.name in STEPFUNCTIONS_SETS]
    with mock_aws(config=MOTO_CONFIG):
        yield boto3.client(
            "stepfunctions", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )


# -- CONTRACT: moto as it is -------------------------------------------------------------------
# These tests run plain moto and assert the bugs localcloud mends are still there. When one fails,
# moto changed: check whether the matching patch in localcloud/stepfunctions/ is still needed (or
# still right) and update both.
@pytest.mark.parametrize("suffix", ["", ".sync", ".sync:2"])
def test_contract_plain_moto_fails_nested_executions_on_parameter_names(plain_sfn: Any, suffix: str) -> None:
    # Given plain moto and a parent that starts a child, as the docs write it
    echo, _ = child_machines(plain_sfn, "contract")
    parent = machine(
        plain_sfn,
        "parent",
        {"Start": task(f"arn:aws:states:::states:startExecution{suffix}", {"StateMachineArn": echo})},
    )

    # When it runs
    described = run(plain_sfn, parent)

    # Then botocore rejects the un-normalised PascalCase parameter: States.Runtime 'StateMachineArn'
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert "'StateMachineArn'" in described["cause"]


def test_contract_plain_moto_names_nameless_executions_none(plain_sfn: Any) -> None:
    # Given plain moto and a state machine
    pass_machine = machine(plain_sfn, "pass", {"P": {"Type": "Pass", "End": True}})

    # When it is started without a name
    arn = plain_sfn.start_execution(stateMachineArn=pass_machine)["executionArn"]

    # Then moto named it "None" (so a second nameless start collides)
    assert arn.endswith(":None")
    finish(plain_sfn, arn)
    with pytest.raises(plain_sfn.exceptions.ExecutionAlreadyExists):
        plain_sfn.start_execution(stateMachineArn=pass_machine)


def test_contract_plain_moto_has_no_start_sync_execution(plain_sfn: Any) -> None:
    # Given plain moto and an EXPRESS state machine
    express = machine(plain_sfn, "express", {"P": {"Type": "Pass", "End": True}}, kind="EXPRESS")

    # When StartSyncExecution is called, Then moto does not implement it
    with pytest.raises(plain_sfn.exceptions.ClientError, match="Not yet implemented"):
        plain_sfn.start_sync_execution(stateMachineArn=express)


def test_contract_every_patch_target_is_in_the_pinned_moto() -> None:
    # Given the Step Functions patch sets, not installed
    patch_sets = emulation(Settings(fast=True)).patches()

    # When they are checked against the moto installed, Then every target is where they expect it
    assert {patch_set.name for patch_set in patch_sets} == STEPFUNCTIONS_SETS
    assert [problem for patch_set in patch_sets for problem in patch_set.check()] == []


# -- installing and restoring ------------------------------------------------------------------
def test_localcloud_installs_its_patch_sets_and_stop_restores_moto(tmp_path: Path) -> None:
    # Given moto's own methods
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )
    from moto.stepfunctions.responses import StepFunctionResponse

    before = StateTaskService.__dict__["_normalise_parameters"]
    assert not hasattr(StepFunctionResponse, "start_sync_execution")
    other = emulation(Settings(fast=True)).patches()

    # When a localcloud starts (and, while it runs, another emulation's patch sets try to install)
    with running_cloud(tmp_path) as cloud:
        installed = {patch_set.name for patch_set in REGISTRY.installed()}
        patched = StateTaskService.__dict__["_normalise_parameters"]
        answers_sync = hasattr(StepFunctionResponse, "start_sync_execution")
        with pytest.raises(RuntimeError, match="another 'stepfunctions integrations' patch set is installed"):
            REGISTRY.install(other[0])
        sfn = cloud.client("stepfunctions")
        ran = run(sfn, machine(sfn, "p", {"P": {"Type": "Pass", "End": True}}))

    # Then the registry had its Step Functions patch sets installed, and they changed moto
    assert installed >= STEPFUNCTIONS_SETS
    assert patched is not before
    assert answers_sync
    assert ran["status"] == "SUCCEEDED"
    # And after stop moto is as it was: its own method back, the added one gone, nothing installed
    assert StateTaskService.__dict__["_normalise_parameters"] is before
    assert not hasattr(StepFunctionResponse, "start_sync_execution")
    assert not STEPFUNCTIONS_SETS & {patch_set.name for patch_set in REGISTRY.installed()}
    # And another emulation's patch sets may now install (and restore)
    for patch_set in other:
        REGISTRY.install(patch_set)
    try:
        assert StateTaskService.__dict__["_normalise_parameters"] is not before
    finally:
        for patch_set in reversed(other):
            REGISTRY.restore(patch_set)
    assert StateTaskService.__dict__["_normalise_parameters"] is before


# -- fast mode and AWS timings -----------------------------------------------------------------
def test_delay_and_deadline_scale_only_in_fast_mode() -> None:
    # Given an emulation in fast mode and one with AWS timings
    fast = emulation(
        Settings(fast=True, fast_factor=0.001, min_task_deadline=1.0, min_execution_deadline=10.0)
    )
    slow = emulation(Settings(fast=False, min_task_deadline=1.0, min_execution_deadline=10.0))

    # Then waits scale fully, deadlines scale but keep their floor (or their own value, if shorter)
    assert fast.settings.delay(60) == pytest.approx(0.06)
    assert fast.deadlines.task(3600) == pytest.approx(3.6)
    assert fast.deadlines.task(60) == 1.0
    assert fast.deadlines.task(0.5) == 0.5
    assert fast.deadlines.execution(60) == 10.0
    assert fast.deadlines.execution(36000) == pytest.approx(36)
    assert fast.deadlines.execution(5) == 5
    assert slow.settings.delay(60) == 60
    assert slow.deadlines.task(60) == 60
    assert slow.deadlines.execution(60) == 60


def test_without_fast_mode_a_wait_keeps_aws_timing(tmp_path: Path) -> None:
    # Given a localcloud with AWS timings and a one-second Wait
    with running_cloud(tmp_path, fast=False) as cloud:
        sfn = cloud.client("stepfunctions")
        wait = machine(
            sfn,
            "wait",
            {"W": {"Type": "Wait", "Seconds": 1, "Next": "Done"}, "Done": {"Type": "Pass", "End": True}},
        )

        # When it runs
        started = time.monotonic()
        described = run(sfn, wait, {"n": 1})
        took = time.monotonic() - started

    # Then it took the whole second
    assert output(described) == {"n": 1}
    assert took >= 1
