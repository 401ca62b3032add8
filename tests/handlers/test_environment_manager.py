"""The environment manager against moto: stacks provisioned, WARM only once CloudFormation says so,
retired with their buckets emptied, refused when the trials table contradicts the event, reconciled."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.handlers.conftest import FakeContext, load_handler
from tests.handlers.logs import correlation_ids, log_lines
from tests.handlers.test_trial_pool import create_pool_table, create_trials_table

# moto's CloudFormation skips the bucket's TLS-only policy (it has no AWS::S3::BucketPolicy) and says so.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.+BucketPolicy")

POOL, TRIALS = "pool", "trials"
TRIAL_ID = "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c"
LEAD = "lead-0042"
TEMPLATE = Path(__file__).resolve().parents[2] / "lambdas/environment_manager/trial_environment.template.json"
ROLE_ARN = "arn:aws:iam::123456789012:role/trial-env-stacks"


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the pool and trials tables, a pool size of 3 and the stack prefix
    create_pool_table(POOL)
    create_trials_table(TRIALS)
    for key, value in {
        "POOL_TABLE_NAME": POOL,
        "TRIALS_TABLE_NAME": TRIALS,
        "POOL_SIZE": "3",
        "STACK_PREFIX": "trial-env",
        "STACK_ROLE_ARN": ROLE_ARN,
        "PROVISIONING_DEADLINE_SECONDS": "1800",
        "STUCK_TRIAL_SECONDS": "900",
    }.items():
        monkeypatch.setenv(key, value)
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
            "leadId": LEAD,
            "type": "ACS",
            "requestedAt": 1795514400,
            "status": status,
        },
    }


def stack_event(stack_id: str, status: str = "CREATE_COMPLETE") -> dict[str, Any]:
    """A CloudFormation Stack Status Change, as the default bus forwards it."""
    return {
        "version": "0",
        "id": "cfn-1",
        "detail-type": "CloudFormation Stack Status Change",
        "source": "aws.cloudformation",
        "account": "123456789012",
        "time": "2026-11-24T10:00:00Z",
        "region": "us-east-1",
        "resources": [stack_id],
        "detail": {"stack-id": stack_id, "status-details": {"status": status, "status-reason": ""}},
    }


SCHEDULED = {
    "version": "0",
    "id": "sched-1",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-24T10:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/reconcile"],
    "detail": {},
}


def invoke(handler: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = handler.lambda_handler(event, FakeContext(function_name="environment-manager"))
    return result


def pool_items() -> dict[str, dict[str, str]]:
    items = boto3.client("dynamodb").scan(TableName=POOL)["Items"]
    return {i["environmentId"]["S"]: {k: next(iter(v.values())) for k, v in i.items()} for i in items}


def statuses() -> list[str]:
    return sorted(item["status"] for item in pool_items().values())


def live_stacks() -> dict[str, dict[str, Any]]:
    stacks = boto3.client("cloudformation").describe_stacks()["Stacks"]
    return {s["StackName"]: s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"}


def stack_id(environment_id: str) -> str:
    return str(live_stacks()[f"trial-env-{environment_id}"]["StackId"])


def report_created(handler: ModuleType) -> None:
    """What CloudFormation does once each stack is up: a status change per stack, through the bus."""
    for environment_id, item in pool_items().items():
        if item["status"] == "PROVISIONING":
            invoke(handler, stack_event(stack_id(environment_id)))


def put_trial(*, status: str = "ASSIGNED", expires_in: int = 3600, requested_at: int | None = None) -> None:
    now = int(time.time())
    boto3.client("dynamodb").put_item(
        TableName=TRIALS,
        Item={
            "trialId": {"S": TRIAL_ID},
            "leadId": {"S": LEAD},
            "type": {"S": "ACS"},
            "status": {"S": status},
            "requestedAt": {"N": str(requested_at or now - 60)},
            "expiresAt": {"N": str(now + expires_in)},
        },
    )


def claimed_environment(handler: ModuleType) -> str:
    """A warm environment (from a reconcile) that the trial has claimed, as the workflow would."""
    invoke(handler, SCHEDULED)
    report_created(handler)
    environment_id = sorted(pool_items())[0]
    boto3.client("dynamodb").update_item(
        TableName=POOL,
        Key={"environmentId": {"S": environment_id}},
        UpdateExpression="SET #s = :c, trialId = :t",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "CLAIMED"}, ":t": {"S": TRIAL_ID}},
    )
    return environment_id


# --- provisioning: WARM only once the stack is CREATE_COMPLETE ---------------------------------------


def test_trial_assigned_provisions_one_environment_that_is_not_warm_yet(handler: ModuleType) -> None:
    # When TrialAssigned arrives (the trial took a warm environment)
    result = invoke(handler, trial_event("TrialAssigned", "ASSIGNED"))
    # Then a stack trial-env-<id> is created from the template with the environment id as its parameter
    [environment_id] = result["created"]
    stack = live_stacks()[f"trial-env-{environment_id}"]
    assert stack["Parameters"] == [{"ParameterKey": "TrialEnvironmentId", "ParameterValue": environment_id}]
    endpoint = boto3.client("ssm").get_parameter(Name=f"/trials/{environment_id}/endpoint")["Parameter"]
    assert endpoint["Value"].startswith("https://")
    # And the pool has it as PROVISIONING, not WARM: nothing has said the stack is ready
    item = pool_items()[environment_id]
    assert (item["status"], item["stackName"]) == ("PROVISIONING", f"trial-env-{environment_id}")
    assert item["createdAt"].endswith("Z")


def test_the_stacks_create_complete_makes_its_environment_warm_once(handler: ModuleType) -> None:
    # Given a provisioned environment
    [environment_id] = invoke(handler, trial_event("TrialAssigned", "ASSIGNED"))["created"]
    # When CloudFormation's status change arrives, twice (at-least-once delivery)
    first = invoke(handler, stack_event(stack_id(environment_id)))
    second = invoke(handler, stack_event(stack_id(environment_id)))
    # Then the environment went PROVISIONING -> WARM once
    assert (first["action"], second["action"]) == ("warm", "unchanged")
    assert pool_items()[environment_id]["status"] == "WARM"


def test_an_event_saying_complete_for_a_stack_still_creating_changes_nothing(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a provisioned environment whose stack CloudFormation reports as still being created
    [environment_id] = invoke(handler, trial_event("TrialAssigned", "ASSIGNED"))["created"]
    with_cloudformation(handler, monkeypatch, describe_stacks=reports("CREATE_IN_PROGRESS"))
    # When an event claims it is complete (late, replayed or forged)
    result = invoke(
        handler, stack_event(f"arn:aws:cloudformation:us-east-1:1:stack/trial-env-{environment_id}/x")
    )
    # Then the status CloudFormation reports now decides: still PROVISIONING
    assert result["action"] == "unchanged"
    assert pool_items()[environment_id]["status"] == "PROVISIONING"


def test_a_failed_creation_retires_the_environment_and_provisions_a_replacement(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a provisioned environment whose stack rolled back
    [environment_id] = invoke(handler, trial_event("TrialAssigned", "ASSIGNED"))["created"]
    deleted: list[str] = []
    with_cloudformation(
        handler,
        monkeypatch,
        describe_stacks=reports("ROLLBACK_COMPLETE", reason="Bucket: CREATE_FAILED"),
        delete_stack=lambda **kwargs: deleted.append(kwargs["StackName"]),
    )
    # When its status change arrives, twice
    arn = f"arn:aws:cloudformation:us-east-1:123456789012:stack/trial-env-{environment_id}/x"
    first, second = invoke(handler, stack_event(arn, "ROLLBACK_COMPLETE")), invoke(handler, stack_event(arn))
    # Then the environment is FAILED with the reason, its stack deleted, and one replacement provisioned
    assert first["action"] == "failed" and second["action"] == "unchanged"
    item = pool_items()[environment_id]
    assert item["status"] == "FAILED" and "ROLLBACK_COMPLETE" in item["statusReason"]
    assert deleted == [f"trial-env-{environment_id}"]
    assert pool_items()[first["replacement"]]["status"] == "PROVISIONING"
    assert len(pool_items()) == 2


def test_a_stack_that_is_not_a_pool_environment_is_ignored(handler: ModuleType) -> None:
    result = invoke(
        handler, stack_event("arn:aws:cloudformation:us-east-1:123456789012:stack/trial-env-unknown/x")
    )
    assert result["action"] == "ignored" and pool_items() == {}


def test_a_status_change_without_a_stack_id_is_refused(handler: ModuleType) -> None:
    event = stack_event("x")
    event["detail"] = {"status-details": {"status": "CREATE_COMPLETE"}}
    with pytest.raises(handler.InvalidStackEvent):
        invoke(handler, event)


# --- the scheduled reconcile ------------------------------------------------------------------------


def test_the_reconcile_fills_the_pool_and_a_second_run_has_nothing_to_do(handler: ModuleType) -> None:
    result = invoke(handler, SCHEDULED)
    assert len(result["provisioned"]) == 3 and statuses() == ["PROVISIONING"] * 3
    assert len(live_stacks()) == 3
    report_created(handler)
    assert statuses() == ["WARM"] * 3
    assert invoke(handler, SCHEDULED)["provisioned"] == []


def test_the_reconcile_replaces_retired_environments(handler: ModuleType) -> None:
    # Given a warm pool of which one environment was claimed and one retired as FAILED
    claimed = claimed_environment(handler)
    failed = sorted(pool_items())[1]
    boto3.client("dynamodb").update_item(
        TableName=POOL,
        Key={"environmentId": {"S": failed}},
        UpdateExpression="SET #s = :f",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":f": {"S": "FAILED"}},
    )
    # When the reconcile runs
    result = invoke(handler, SCHEDULED)
    # Then the FAILED one's stack is deleted (DELETED), and two new ones bring the pool back to 3
    assert result["redeleted"] == [failed]
    assert pool_items()[failed]["status"] == "DELETED"
    assert f"trial-env-{failed}" not in live_stacks()
    assert len(result["provisioned"]) == 2
    assert pool_items()[claimed]["status"] == "CLAIMED"
    assert statuses().count("WARM") + statuses().count("PROVISIONING") == 3


def test_the_reconcile_settles_an_environment_whose_status_event_was_lost(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a pool provisioned long ago, whose CREATE_COMPLETE events never came
    invoke(handler, SCHEDULED)
    monkeypatch.setattr(handler, "settings", replace(handler.settings, provisioning_deadline_seconds=-60))
    # When the reconcile runs
    result = invoke(handler, SCHEDULED)
    # Then it asked CloudFormation and made them WARM
    assert len(result["warmed"]) == 3 and statuses() == ["WARM"] * 3


def test_the_reconcile_moves_a_stuck_trial_to_needs_attention_with_a_metric(
    handler: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a trial still REQUESTED an hour after its request (the deadline is 15 minutes)
    put_trial(status="REQUESTED", requested_at=int(time.time()) - 3600)
    # When the reconcile runs
    result = invoke(handler, SCHEDULED)
    # Then the trial is NEEDS_ATTENTION with a reason, and the count went out as an EMF metric
    assert result["needsAttention"] == [TRIAL_ID]
    row = boto3.client("dynamodb").get_item(TableName=TRIALS, Key={"trialId": {"S": TRIAL_ID}})["Item"]
    assert row["status"]["S"] == "NEEDS_ATTENTION" and "REQUESTED" in row["reason"]["S"]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"CloudWatchMetrics"' in line]
    assert [line["TrialsNeedingAttention"] for line in emf] == [1]
    # And a fresh trial, and the next run, leave everything else alone
    assert invoke(handler, SCHEDULED)["needsAttention"] == []


# --- retiring: re-checked against the trials table, bucket emptied first -----------------------------


def test_trial_expired_empties_the_bucket_deletes_the_stack_and_marks_the_environment_deleted(
    handler: ModuleType,
) -> None:
    # Given an environment the trial claimed, whose bucket holds the trial's data, and no trial row (TTL)
    environment_id = claimed_environment(handler)
    bucket = next(
        o["OutputValue"]
        for o in live_stacks()[f"trial-env-{environment_id}"]["Outputs"]
        if o["OutputKey"] == "BucketName"
    )
    s3 = boto3.client("s3")
    for n in range(3):
        s3.put_object(Bucket=bucket, Key=f"data/{n}.json", Body=b"{}")
    # When the trial expires
    result = invoke(handler, trial_event("TrialExpired", "EXPIRED"))
    # Then its bucket was emptied, its stack is gone and the pool item is DELETED
    assert result == {"retired": [environment_id]}
    assert f"trial-env-{environment_id}" not in live_stacks()
    with pytest.raises(ClientError):
        s3.list_objects_v2(Bucket=bucket)
    assert pool_items()[environment_id]["status"] == "DELETED"
    assert len(live_stacks()) == 2
    # And a redelivery of the event does nothing
    assert invoke(handler, trial_event("TrialExpired", "EXPIRED")) == {"retired": []}


def test_trial_expired_for_a_trial_the_table_holds_live_is_refused_and_deletes_nothing(
    handler: ModuleType,
) -> None:
    # Given a live trial (expires in an hour) with its environment
    environment_id = claimed_environment(handler)
    put_trial(expires_in=3600)
    # When a TrialExpired for it arrives (forged, or replayed from the archive)
    with pytest.raises(handler.TrialNotExpired) as error:
        invoke(handler, trial_event("TrialExpired", "EXPIRED"))
    # Then nothing was deleted, and the error says why without echoing the event
    assert f"trial-env-{environment_id}" in live_stacks()
    assert pool_items()[environment_id]["status"] == "CLAIMED"
    assert "unexpired" in str(error.value)
    assert TRIAL_ID not in str(error.value) and LEAD not in str(error.value)


def test_trial_expired_for_a_row_past_its_expiry_that_ttl_has_not_removed_yet_retires(
    handler: ModuleType,
) -> None:
    environment_id = claimed_environment(handler)
    put_trial(expires_in=-10)
    assert invoke(handler, trial_event("TrialExpired", "EXPIRED")) == {"retired": [environment_id]}


def test_trial_assignment_failed_marks_the_trial_failed_and_deletes_its_environment(
    handler: ModuleType,
) -> None:
    # Given the trial's row and an environment claimed for it
    put_trial(status="REQUESTED")
    environment_id = claimed_environment(handler)
    # When its assignment fails
    result = invoke(handler, trial_event("TrialAssignmentFailed", "FAILED"))
    # Then the row says FAILED and the environment is deleted
    assert result == {"trialMarkedFailed": True, "retired": [environment_id]}
    row = boto3.client("dynamodb").get_item(TableName=TRIALS, Key={"trialId": {"S": TRIAL_ID}})["Item"]
    assert row["status"]["S"] == "FAILED"
    assert pool_items()[environment_id]["status"] == "DELETED"


def test_trial_assignment_failed_for_an_assigned_trial_is_refused(handler: ModuleType) -> None:
    environment_id = claimed_environment(handler)
    put_trial(status="ASSIGNED")
    with pytest.raises(handler.TrialNotFailed):
        invoke(handler, trial_event("TrialAssignmentFailed", "FAILED"))
    assert pool_items()[environment_id]["status"] == "CLAIMED"


def test_trial_assignment_failed_for_a_row_already_gone_creates_no_row(handler: ModuleType) -> None:
    result = invoke(handler, trial_event("TrialAssignmentFailed", "FAILED"))
    assert result == {"trialMarkedFailed": False, "retired": []}
    assert boto3.client("dynamodb").scan(TableName=TRIALS)["Items"] == []


class CloudFormationProxy:
    """The real (moto) client, with some methods replaced."""

    def __init__(self, client: Any, **overrides: Any) -> None:
        self._client, self._overrides = client, overrides

    def __getattr__(self, name: str) -> Any:
        return self._overrides.get(name) or getattr(self._client, name)


def reports(status: str, reason: str = "") -> Any:
    def describe_stacks(StackName: str) -> dict[str, Any]:
        name = StackName.split(":stack/")[-1].split("/")[0]
        return {"Stacks": [{"StackName": name, "StackStatus": status, "StackStatusReason": reason}]}

    return describe_stacks


def with_cloudformation(handler: ModuleType, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> None:
    from environment_manager.adapters import CloudFormationStacks

    stacks = CloudFormationStacks(
        CloudFormationProxy(boto3.client("cloudformation"), **overrides),
        template_body=TEMPLATE.read_text(),
        role_arn=ROLE_ARN,
    )
    environments = replace(handler.environments(), stacks=stacks)
    monkeypatch.setattr(handler, "environments", lambda: environments)


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
    # Given CloudFormation reports the deletion as DELETE_FAILED
    environment_id = claimed_environment(handler)
    with_cloudformation(
        handler,
        monkeypatch,
        describe_stacks=reports("DELETE_FAILED", "The following resource(s) failed to delete: [Bucket]."),
    )
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
    assert "VersioningConfiguration" not in bucket  # emptying lists and deletes current objects only
    assert template["Outputs"]["BucketName"] == {"Value": {"Ref": "Bucket"}}
    endpoint = template["Resources"]["Endpoint"]["Properties"]
    assert (endpoint["Type"], endpoint["Name"]) == (
        "String",
        {"Fn::Sub": "/trials/${TrialEnvironmentId}/endpoint"},
    )


def test_every_log_line_of_a_trial_event_carries_the_trial_id_as_correlation_id(handler: ModuleType) -> None:
    with log_lines(handler.logger) as lines:
        invoke(handler, trial_event("TrialAssigned", "ASSIGNED", event_id="evt-9"))
    assert lines and set(correlation_ids(lines)) == {TRIAL_ID}


def test_a_scheduled_run_logs_under_its_own_event_id(handler: ModuleType) -> None:
    with log_lines(handler.logger) as lines:
        invoke(handler, {**SCHEDULED, "id": "evt-schedule"})
    assert lines and set(correlation_ids(lines)) == {"evt-schedule"}
