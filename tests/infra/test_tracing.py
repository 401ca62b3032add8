"""X-Ray from the API through Lambda and Step Functions: every function, state machine and stage traced."""

from __future__ import annotations

from typing import Any

from tests.infra.helpers import as_list, referenced_id, resources, statements

Templates = dict[str, dict[str, Any]]


def test_every_function_traces_actively(templates: Templates) -> None:
    # Given every function of every stack (the app's, and any a construct library adds)
    functions = list(resources(templates, "AWS::Lambda::Function"))
    assert len(functions) >= 10
    # Then each one sends its segments to X-Ray
    untraced = [
        f"{stack}/{logical_id}"
        for stack, logical_id, props in functions
        if (props.get("TracingConfig") or {}).get("Mode") != "Active"
    ]
    assert untraced == []


def test_every_state_machine_traces_its_executions(templates: Templates) -> None:
    machines = list(resources(templates, "AWS::StepFunctions::StateMachine"))
    assert {props.get("StateMachineType", "STANDARD") for _, _, props in machines} == {"STANDARD", "EXPRESS"}
    untraced = [
        f"{stack}/{logical_id}"
        for stack, logical_id, props in machines
        if (props.get("TracingConfiguration") or {}).get("Enabled") is not True
    ]
    assert untraced == []


def test_every_api_stage_traces_its_requests(templates: Templates) -> None:
    stages = list(resources(templates, "AWS::ApiGateway::Stage"))
    assert stages
    assert [
        f"{stack}/{logical_id}"
        for stack, logical_id, props in stages
        if props.get("TracingEnabled") is not True
    ] == []


def test_every_state_machine_role_may_write_to_x_ray(templates: Templates) -> None:
    # A state machine with tracing on but no xray:PutTraceSegments drops its segments silently.
    for stack, logical_id, props in resources(templates, "AWS::StepFunctions::StateMachine"):
        role = referenced_id(props.get("RoleArn"))
        actions = {
            action
            for _, _, policy in resources({stack: templates[stack]}, "AWS::IAM::Policy")
            if role in [referenced_id(r) for r in as_list(policy.get("Roles", []))]
            for statement in statements(policy["PolicyDocument"])
            for action in as_list(statement.get("Action", []))
        }
        assert {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} <= actions, f"{stack}/{logical_id}"
