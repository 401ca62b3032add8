"""The trial flow as synthesized: table stream and TTL, the stream mapping, consumers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.helpers import as_list, referenced_id, resources

Templates = dict[str, dict[str, Any]]
TRIALS = "EventDriven-Trials"


def trial_resources(templates: Templates, type_: str) -> list[tuple[str, dict[str, Any]]]:
    return [(i, p) for _, i, p in resources({TRIALS: templates[TRIALS]}, type_)]


def test_the_trials_table_streams_both_images_and_expires_by_ttl(templates: Templates) -> None:
    [(_, table)] = [
        (i, p) for i, p in trial_resources(templates, "AWS::DynamoDB::Table") if "TrialsTable" in i
    ]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


def test_the_pool_table_is_indexed_by_status_and_by_trial(templates: Templates) -> None:
    [(_, pool)] = [(i, p) for i, p in trial_resources(templates, "AWS::DynamoDB::Table") if "PoolTable" in i]
    assert {g["IndexName"] for g in pool["GlobalSecondaryIndexes"]} == {"byStatus", "byTrial"}


def test_stateful_trial_resources_keep_their_logical_ids(templates: Templates) -> None:
    # Renaming these replaces the resource on deploy: the tables lose their items, a log group of a
    # fixed name clashes with its replacement, a DLQ loses what is parked in it.
    assert {
        "TrialsTrialsTable53C76C83",
        "TrialsPoolTableDD671CEC",
        "TrialsTrialPoolLogsDD90D4D8",
        "TrialsEnvironmentManagerHandlerLogs9EE38751",
        "TrialsEnvironmentManagerFailuresQueueEB680E99",
        "TrialsEnvironmentManagerRouteDlqQueueBE6EB997",
        "TrialsParkedRecordsQueue39E44C89",
        "TrialsStreamFailuresQueue2490A0FA",
    } <= set(templates[TRIALS]["Resources"])


def test_stuck_trials_are_found_through_a_keys_only_status_index(templates: Templates) -> None:
    [(_, table)] = [
        (i, p) for i, p in trial_resources(templates, "AWS::DynamoDB::Table") if "TrialsTable" in i
    ]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "byStatus" and index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["status", "requestedAt"]


def test_request_keys_have_a_table_of_their_own_that_expires_with_the_trials(templates: Templates) -> None:
    [(_, table)] = [
        (i, p) for i, p in trial_resources(templates, "AWS::DynamoDB::Table") if "TrialRequestsTable" in i
    ]
    assert table["KeySchema"] == [{"AttributeName": "requestKey", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_stream_mapping_filters_inserts_moves_to_needs_attention_and_ttl_removals_only(
    templates: Templates,
) -> None:
    [(_, mapping)] = trial_resources(templates, "AWS::Lambda::EventSourceMapping")
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert {"eventName": ["INSERT"]} in patterns
    assert {
        "eventName": ["MODIFY"],
        "dynamodb": {
            "NewImage": {"status": {"S": ["NEEDS_ATTENTION"]}},
            "OldImage": {"status": {"S": [{"anything-but": ["NEEDS_ATTENTION"]}]}},
        },
    } in patterns
    assert {
        "eventName": ["REMOVE"],
        "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
    } in patterns
    assert len(patterns) == 3


def test_the_stream_mapping_never_blocks_the_shard(templates: Templates) -> None:
    [(_, mapping)] = trial_resources(templates, "AWS::Lambda::EventSourceMapping")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 <= mapping["MaximumRetryAttempts"] <= 10
    assert mapping["MaximumRecordAgeInSeconds"] > 0
    assert "StreamFailures" in referenced_id(mapping["DestinationConfig"]["OnFailure"]["Destination"])


def test_trial_events_route_to_their_consumers(templates: Templates) -> None:
    patterns = {
        json.dumps(p["EventPattern"], sort_keys=True): p
        for _, p in trial_resources(templates, "AWS::Events::Rule")
        if "EventPattern" in p
    }
    detail_types = [json.loads(k).get("detail-type") for k in patterns]
    assert ["TrialRequested"] in detail_types
    assert ["TrialAssigned", "TrialExpired", "TrialAssignmentFailed"] in detail_types


def test_environments_are_stacks_created_with_a_role_of_their_own(templates: Templates) -> None:
    [(_, manager)] = [
        (i, p)
        for i, p in trial_resources(templates, "AWS::Lambda::Function")
        if p["Handler"].startswith("environment_manager.")
    ]
    variables = manager["Environment"]["Variables"]
    assert referenced_id(variables["STACK_ROLE_ARN"])
    assert int(variables["POOL_SIZE"]) >= 1
    role = templates[TRIALS]["Resources"][referenced_id(variables["STACK_ROLE_ARN"])]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "cloudformation.amazonaws.com"
    }


def function(templates: Templates, handler_prefix: str) -> tuple[str, dict[str, Any]]:
    [found] = [
        (i, p)
        for i, p in trial_resources(templates, "AWS::Lambda::Function")
        if p["Handler"].startswith(handler_prefix)
    ]
    return found


def granted(templates: Templates, function_props: dict[str, Any]) -> list[tuple[set[str], str]]:
    """(actions, resources as JSON) of every statement in the function role's policies."""
    role = referenced_id(function_props["Role"])
    found = []
    for _, props in trial_resources(templates, "AWS::IAM::Policy"):
        if role in {referenced_id(r) for r in props["Roles"]}:
            for statement in props["PolicyDocument"]["Statement"]:
                found.append((set(as_list(statement["Action"])), json.dumps(statement["Resource"])))
    return found


def dynamodb_actions(templates: Templates, handler_prefix: str, table: str) -> set[str]:
    _, props = function(templates, handler_prefix)
    return {
        action
        for actions, resources_ in granted(templates, props)
        if table in resources_
        for action in actions
        if action.startswith("dynamodb:")
    }


@pytest.mark.parametrize(
    ("handler", "table", "actions"),
    [
        ("trials_api.", "TrialsTrialsTable", {"dynamodb:GetItem", "dynamodb:PutItem"}),
        ("trials_api.", "TrialsTrialRequestsTable", {"dynamodb:GetItem", "dynamodb:PutItem"}),
        ("trial_pool.", "TrialsPoolTable", {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"}),
        ("trial_pool.", "TrialsTrialsTable", {"dynamodb:GetItem", "dynamodb:UpdateItem"}),
        (
            "environment_manager.",
            "TrialsPoolTable",
            {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"},
        ),
        (
            "environment_manager.",
            "TrialsTrialsTable",
            {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"},
        ),
    ],
)
def test_trial_functions_get_exactly_the_dynamodb_actions_they_use(
    templates: Templates, handler: str, table: str, actions: set[str]
) -> None:
    assert dynamodb_actions(templates, handler, table) == actions


def test_no_trial_function_may_scan_or_delete_items(templates: Templates) -> None:
    for _, props in trial_resources(templates, "AWS::IAM::Policy"):
        for statement in props["PolicyDocument"]["Statement"]:
            actions = set(as_list(statement["Action"]))
            assert not actions & {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}, (
                statement
            )


def test_the_environment_manager_may_empty_trial_buckets_and_nothing_more_on_s3(templates: Templates) -> None:
    _, props = function(templates, "environment_manager.")
    s3 = [
        (actions, resources_)
        for actions, resources_ in granted(templates, props)
        if any(a.startswith("s3:") for a in actions)
    ]
    assert sorted((sorted(a), r) for a, r in s3) == [
        (
            ["s3:DeleteObject"],
            json.dumps({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::trial-env-*/*"]]}),
        ),
        (
            ["s3:ListBucket"],
            json.dumps({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::trial-env-*"]]}),
        ),
    ]


def test_stack_status_changes_of_trial_stacks_reach_the_environment_manager_through_the_custom_bus(
    templates: Templates,
) -> None:
    rules = [
        (i, p)
        for i, p in trial_resources(templates, "AWS::Events::Rule")
        if p.get("EventPattern", {}).get("source") == ["aws.cloudformation"]
    ]
    [(forwarder_id, forwarder)] = [(i, p) for i, p in rules if p.get("EventBusName") == "default"]
    [(_, route)] = [(i, p) for i, p in rules if p.get("EventBusName") != "default"]
    for rule in (forwarder, route):
        pattern = rule["EventPattern"]
        assert pattern["detail-type"] == ["CloudFormation Stack Status Change"]
        [prefix] = pattern["detail"]["stack-id"]
        assert prefix["prefix"]["Fn::Join"][1][-1] == ":stack/trial-env-"
        assert {"Ref": "AWS::AccountId"} in prefix["prefix"]["Fn::Join"][1]
    [target] = forwarder["Targets"]
    assert "EventingBus" in json.dumps(target["Arn"]) and target["RoleArn"]
    [target] = route["Targets"]
    assert referenced_id(target["Arn"]) == function(templates, "environment_manager.")[0]
    assert target["DeadLetterConfig"] and target["RetryPolicy"]
    assert forwarder_id


def test_a_schedule_reconciles_the_pool_every_five_minutes_with_a_dlq(templates: Templates) -> None:
    [(rule_id, rule)] = [
        (i, p) for i, p in trial_resources(templates, "AWS::Events::Rule") if "ScheduleExpression" in p
    ]
    assert rule["ScheduleExpression"] == "rate(5 minutes)" and rule.get("State", "ENABLED") == "ENABLED"
    [target] = rule["Targets"]
    assert referenced_id(target["Arn"]) == function(templates, "environment_manager.")[0]
    assert referenced_id(target["DeadLetterConfig"]["Arn"]) and target["RetryPolicy"]
    assert TRIALS in templates and rule_id in json.dumps(templates[TRIALS]["Outputs"])


def test_stuck_trials_alarm_the_operators(templates: Templates) -> None:
    [alarm] = [
        p
        for _, p in trial_resources(templates, "AWS::CloudWatch::Alarm")
        if p.get("MetricName") == "TrialsNeedingAttention"
    ]
    assert alarm["Namespace"] == "EventDriven" and alarm["Threshold"] == 1
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "environment-manager"}]
    assert alarm["AlarmActions"]
    _, manager = function(templates, "environment_manager.")
    assert (
        int(manager["Environment"]["Variables"]["STUCK_TRIAL_SECONDS"]) >= 3 * 300
    )  # > the workflow's timeout


def test_the_claim_is_recorded_by_the_pool_function_and_conflicts_are_retried(templates: Templates) -> None:
    [(_, machine)] = trial_resources(templates, "AWS::StepFunctions::StateMachine")
    definition = json.dumps(machine["DefinitionString"])
    assert "RecordOnTrial" not in definition  # the claim's own transaction records it on the row
    assert "ClaimConflict" in definition


def test_the_assignment_workflow_touches_no_table(templates: Templates) -> None:
    [(_, machine)] = trial_resources(templates, "AWS::StepFunctions::StateMachine")
    role = referenced_id(machine["RoleArn"])
    actions = {
        action
        for _, props in trial_resources(templates, "AWS::IAM::Policy")
        if role in {referenced_id(r) for r in props["Roles"]}
        for statement in props["PolicyDocument"]["Statement"]
        for action in as_list(statement["Action"])
    }
    assert "lambda:InvokeFunction" in actions
    assert not {a for a in actions if a.startswith("dynamodb:")}
