"""The trial flow as synthesized: table stream and TTL, the stream mapping, consumers."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.helpers import referenced_id, resources

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


def test_the_stream_mapping_filters_inserts_and_ttl_removals_only(templates: Templates) -> None:
    [(_, mapping)] = trial_resources(templates, "AWS::Lambda::EventSourceMapping")
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    assert {"eventName": ["INSERT"]} in patterns
    assert {
        "eventName": ["REMOVE"],
        "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
    } in patterns
    assert len(patterns) == 2


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
