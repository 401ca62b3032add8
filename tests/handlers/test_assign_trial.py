"""The AssignTrial handler against moto: one execution of the state machine per trial, bad events fail."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.handlers.conftest import FakeContext, load_handler
from tests.handlers.logs import correlation_ids, log_lines

TRIAL_ID = "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c"
DETAIL = {
    "version": "1.0",
    "trialId": TRIAL_ID,
    "leadId": "lead-0042",
    "type": "ACS",
    "requestedAt": 1795514400,
    "status": "REQUESTED",
}


@pytest.fixture
def state_machine_arn(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    # Given an assignment state machine (a Pass state stands in for the real workflow)
    definition = {"StartAt": "Assign", "States": {"Assign": {"Type": "Pass", "End": True}}}
    arn = boto3.client("stepfunctions").create_state_machine(
        name="trial-assignment",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/trial-assignment",
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    return str(arn)


@pytest.fixture
def handler(state_machine_arn: str) -> ModuleType:
    return load_handler("assign_trial.handler")


def trial_event(
    detail: Any, *, event_id: str = "evt-1", detail_type: str = "TrialRequested"
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": "OnlineTrial",
        "account": "123456789012",
        "time": "2026-11-24T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def executions(arn: str) -> list[dict[str, Any]]:
    return boto3.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]


def test_a_requested_trial_starts_the_assignment_named_after_the_trial(
    handler: ModuleType, state_machine_arn: str
) -> None:
    # When TrialRequested arrives
    result = handler.lambda_handler(trial_event(DETAIL), FakeContext(function_name="assign-trial"))
    # Then one execution named after the trial runs with the detail as its input
    [execution] = executions(state_machine_arn)
    assert execution["name"] == TRIAL_ID
    assert result == {"executionArn": execution["executionArn"]}
    described = boto3.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == DETAIL


def test_a_redelivered_event_is_fine_and_starts_nothing_more(
    handler: ModuleType, state_machine_arn: str
) -> None:
    # Given the event was handled once
    first = handler.lambda_handler(trial_event(DETAIL), FakeContext())
    # When EventBridge delivers it again (or a second event for the same trial arrives)
    second = handler.lambda_handler(
        trial_event(DETAIL, event_id="evt-2"), FakeContext(aws_request_id="req-2")
    )
    # Then it succeeds with the same execution, and still only one exists
    assert second == first
    assert len(executions(state_machine_arn)) == 1


def test_a_redelivery_after_the_execution_ended_is_fine_too(
    handler: ModuleType, state_machine_arn: str
) -> None:
    # Given the trial's execution ran and ended (Step Functions now answers ExecutionAlreadyExists)
    first = handler.lambda_handler(trial_event(DETAIL), FakeContext())
    boto3.client("stepfunctions").stop_execution(executionArn=first["executionArn"])
    # When the event is delivered again
    second = handler.lambda_handler(trial_event(DETAIL), FakeContext(aws_request_id="req-2"))
    # Then it succeeds with that execution's ARN and starts no other
    assert second == first
    assert len(executions(state_machine_arn)) == 1


@pytest.mark.parametrize(
    ("event", "says"),
    [
        (trial_event({**DETAIL, "status": "ASSIGNED"}, event_id="bad-1"), "status"),
        (trial_event({k: v for k, v in DETAIL.items() if k != "leadId"}, event_id="bad-1"), "leadId"),
        (trial_event({**DETAIL, "extra": 1}, event_id="bad-1"), "extra"),
        (trial_event(DETAIL, event_id="bad-1", detail_type="TrialExpired"), "TrialExpired"),
    ],
)
def test_an_invalid_event_fails_with_a_readable_error_and_starts_nothing(
    handler: ModuleType, state_machine_arn: str, event: dict[str, Any], says: str
) -> None:
    with pytest.raises(handler.InvalidTrialEvent) as error:
        handler.lambda_handler(event, FakeContext())
    assert "bad-1" in str(error.value) and says in str(error.value)
    assert executions(state_machine_arn) == []


def test_every_log_line_carries_the_trial_id_as_correlation_id(handler: ModuleType) -> None:
    with log_lines(handler.logger) as lines:
        handler.lambda_handler(
            trial_event(DETAIL, event_id="evt-9"), FakeContext(function_name="assign-trial")
        )
    assert lines and set(correlation_ids(lines)) == {TRIAL_ID}
