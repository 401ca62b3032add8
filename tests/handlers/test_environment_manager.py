"""The environment manager against moto: warm stacks created from the template, expired ones deleted."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.handlers.conftest import FakeContext, load_handler
from tests.handlers.test_trial_pool import create_pool_table

# moto's CloudFormation skips the bucket's TLS-only policy (it has no AWS::S3::BucketPolicy) and says so.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.+BucketPolicy")

POOL, TRIALS = "pool", "trials"
TRIAL_ID = "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c"
TEMPLATE = Path(__file__).resolve().parents[2] / "lambdas/environment_manager/trial_environment.template.json"


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the pool and trials tables, a pool size of 3 and the default stack prefix
    create_pool_table(POOL)
    boto3.client("dynamodb").create_table(
        TableName=TRIALS,
        KeySchema=[{"AttributeName": "trialId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "trialId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("POOL_TABLE_NAME", POOL)
    monkeypatch.setenv("TRIALS_TABLE_NAME", TRIALS)
    monkeypatch.setenv("POOL_SIZE", "3")
    monkeypatch.delenv("STACK_PREFIX", raising=False)
    return load_handler("environment_manager.handler")


def trial_event(detail_type: str, status: str, *, event_id: str = "evt-1") -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": "OnlineTrial",
        "account": "123456789012",
        "time": "2026-11-24T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "version": "1.0",
            "trialId": TRIAL_ID,
            "leadId": "lead-0042",
            "type": "ACS",
            "requestedAt": 1795514400,
            "status": status,
        },
    }


def invoke(handler: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = handler.lambda_handler(event, FakeContext(function_name="environment-manager"))
    return result


def pool_items() -> dict[str, dict[str, str]]:
    items = boto3.client("dynamodb").scan(TableName=POOL)["Items"]
    return {i["environmentId"]["S"]: {k: v["S"] for k, v in i.items()} for i in items}


def live_stacks() -> dict[str, dict[str, Any]]:
    stacks = boto3.client("cloudformation").describe_stacks()["Stacks"]
    return {s["StackName"]: s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"}


def claimed_environment(handler: ModuleType) -> str:
    """A warm environment (from a refill) that the trial has claimed, as the workflow would."""
    invoke(handler, {"action": "refill"})
    environment_id = sorted(pool_items())[0]
    boto3.client("dynamodb").update_item(
        TableName=POOL,
        Key={"environmentId": {"S": environment_id}},
        UpdateExpression="SET #s = :c, trialId = :t",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "CLAIMED"}, ":t": {"S": TRIAL_ID}},
    )
    return environment_id


def test_trial_assigned_creates_one_warm_environment_from_the_template(handler: ModuleType) -> None:
    # When TrialAssigned arrives (the trial took a warm environment)
    result = invoke(handler, trial_event("TrialAssigned", "ASSIGNED"))
    # Then a stack trial-env-<id> is created from the template with the environment id as its parameter
    [environment_id] = result["created"]
    stack = boto3.client("cloudformation").describe_stacks(StackName=f"trial-env-{environment_id}")["Stacks"][
        0
    ]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Parameters"] == [{"ParameterKey": "TrialEnvironmentId", "ParameterValue": environment_id}]
    endpoint = boto3.client("ssm").get_parameter(Name=f"/trials/{environment_id}/endpoint")["Parameter"]
    assert endpoint["Value"].startswith("https://")
    # And the pool has it as WARM with its stack name
    item = pool_items()[environment_id]
    assert (item["status"], item["stackName"]) == ("WARM", f"trial-env-{environment_id}")
    assert item["createdAt"].endswith("Z")


def test_trial_assigned_delivered_again_or_replayed_creates_nothing_more(handler: ModuleType) -> None:
    invoke(handler, trial_event("TrialAssigned", "ASSIGNED", event_id="evt-1"))
    invoke(handler, trial_event("TrialAssigned", "ASSIGNED", event_id="evt-1"))
    invoke(handler, trial_event("TrialAssigned", "ASSIGNED", event_id="evt-replayed"))
    assert len(live_stacks()) == 1
    assert len(pool_items()) == 1


def test_refill_brings_the_warm_environments_up_to_the_pool_size(handler: ModuleType) -> None:
    # Given one warm environment already
    invoke(handler, trial_event("TrialAssigned", "ASSIGNED"))
    # When a refill is asked for
    result = invoke(handler, {"action": "refill"})
    # Then two more are created, and a second refill has nothing to do
    assert len(result["created"]) == 2
    assert [i["status"] for i in pool_items().values()] == ["WARM"] * 3
    assert len(live_stacks()) == 3
    assert invoke(handler, {"action": "refill"}) == {"created": []}


def test_trial_expired_deletes_the_trials_stack_and_marks_the_environment_deleted(
    handler: ModuleType,
) -> None:
    # Given an environment the trial claimed
    environment_id = claimed_environment(handler)
    assert f"trial-env-{environment_id}" in live_stacks()
    # When the trial expires
    result = invoke(handler, trial_event("TrialExpired", "EXPIRED"))
    # Then its stack is gone and the pool item is DELETED (the other warm ones are untouched)
    assert result == {"retired": [environment_id]}
    assert f"trial-env-{environment_id}" not in live_stacks()
    assert len(live_stacks()) == 2
    assert pool_items()[environment_id]["status"] == "DELETED"
    # And a redelivery of the event does nothing
    assert invoke(handler, trial_event("TrialExpired", "EXPIRED")) == {"retired": []}


def test_trial_assignment_failed_marks_the_trial_failed_and_deletes_its_environment(
    handler: ModuleType,
) -> None:
    # Given the trial's row and an environment claimed for it
    boto3.client("dynamodb").put_item(
        TableName=TRIALS, Item={"trialId": {"S": TRIAL_ID}, "status": {"S": "REQUESTED"}}
    )
    environment_id = claimed_environment(handler)
    # When its assignment fails
    result = invoke(handler, trial_event("TrialAssignmentFailed", "FAILED"))
    # Then the row says FAILED and the environment is deleted
    assert result == {"trialMarkedFailed": True, "retired": [environment_id]}
    row = boto3.client("dynamodb").get_item(TableName=TRIALS, Key={"trialId": {"S": TRIAL_ID}})["Item"]
    assert row["status"]["S"] == "FAILED"
    assert pool_items()[environment_id]["status"] == "DELETED"


def test_trial_assignment_failed_for_a_row_already_gone_creates_no_row(handler: ModuleType) -> None:
    result = invoke(handler, trial_event("TrialAssignmentFailed", "FAILED"))
    assert result == {"trialMarkedFailed": False, "retired": []}
    assert boto3.client("dynamodb").scan(TableName=TRIALS)["Items"] == []


class CloudFormationProxy:
    """The real (moto) client, with one method replaced."""

    def __init__(self, client: Any, **overrides: Any) -> None:
        self._client, self._overrides = client, overrides

    def __getattr__(self, name: str) -> Any:
        return self._overrides.get(name) or getattr(self._client, name)


def with_cloudformation(handler: ModuleType, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> None:
    from environment_manager.cloudformation import CloudFormationStacks

    stacks = CloudFormationStacks(
        CloudFormationProxy(boto3.client("cloudformation"), **overrides), template_body=TEMPLATE.read_text()
    )
    monkeypatch.setattr(handler, "stacks", lambda: stacks)


def test_a_delete_stack_error_raises_and_leaves_the_environment_deleting(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an environment claimed by the trial, and CloudFormation refusing to delete stacks
    environment_id = claimed_environment(handler)

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "DeleteStack")

    with_cloudformation(handler, monkeypatch, delete_stack=refuse)
    # When the trial expires, the invocation fails (Lambda retries it, then parks it in the OnFailure DLQ)
    with pytest.raises(ClientError, match="AccessDenied"):
        invoke(handler, trial_event("TrialExpired", "EXPIRED"))
    # And the environment is left DELETING, for the retry to pick up
    assert pool_items()[environment_id]["status"] == "DELETING"


def test_a_stack_that_ends_delete_failed_raises_and_marks_the_environment_failed(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given CloudFormation reports the deletion as DELETE_FAILED (a bucket left with objects in it)
    environment_id = claimed_environment(handler)

    def delete_failed(StackName: str) -> dict[str, Any]:
        return {
            "Stacks": [
                {
                    "StackName": StackName,
                    "StackStatus": "DELETE_FAILED",
                    "StackStatusReason": "The following resource(s) failed to delete: [Bucket].",
                }
            ]
        }

    with_cloudformation(handler, monkeypatch, describe_stacks=delete_failed)
    # When the trial expires
    with pytest.raises(handler.StackDeletionFailed) as error:
        invoke(handler, trial_event("TrialExpired", "EXPIRED"))
    # Then the error names the stack and the reason, and the environment is FAILED with that reason
    assert f"trial-env-{environment_id}" in str(error.value) and "[Bucket]" in str(error.value)
    item = pool_items()[environment_id]
    assert item["status"] == "FAILED" and "[Bucket]" in item["statusReason"]


def test_an_event_of_another_type_fails_with_a_readable_error(handler: ModuleType) -> None:
    with pytest.raises(handler.InvalidTrialEvent, match="evt-9"):
        invoke(handler, trial_event("TrialRequested", "REQUESTED", event_id="evt-9"))


def test_the_template_is_a_private_encrypted_bucket_and_its_endpoint_parameter() -> None:
    # moto's S3 does not apply every bucket property, so the template itself is checked here
    template = json.loads(TEMPLATE.read_text())
    assert set(template["Parameters"]) == {"TrialEnvironmentId"}
    bucket = template["Resources"]["Bucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    endpoint = template["Resources"]["Endpoint"]["Properties"]
    assert (endpoint["Type"], endpoint["Name"]) == (
        "String",
        {"Fn::Sub": "/trials/${TrialEnvironmentId}/endpoint"},
    )
