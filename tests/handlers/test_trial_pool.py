"""The trial-pool handler against moto: a claim takes the oldest WARM environment, once per trial, and
records it on the trial row in the same transaction."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.handlers.conftest import FakeContext, load_handler
from tests.handlers.logs import correlation_ids, log_lines

TABLE, TRIALS = "pool", "trials"
TRIAL_A = "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c"
TRIAL_B = "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"
TRIAL_C = "00000000-0000-4000-8000-000000000003"


def create_pool_table(name: str) -> None:
    """The pool table as the stack declares it. The indexes project keys only: the code must not need more."""
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "environmentId", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "environmentId", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "createdAt", "AttributeType": "S"},
            {"AttributeName": "trialId", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byStatus",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "createdAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": "byTrial",
                "KeySchema": [{"AttributeName": "trialId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def create_trials_table(name: str) -> None:
    """The trials table as the stack declares it, with its keys-only `byStatus` index."""
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "trialId", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "trialId", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "requestedAt", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "byStatus",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "requestedAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def put_trial(
    trial_id: str, *, status: str = "REQUESTED", requested_at: int = 1795514400, **extra: str
) -> None:
    boto3.client("dynamodb").put_item(
        TableName=TRIALS,
        Item={
            "trialId": {"S": trial_id},
            "leadId": {"S": "lead-0042"},
            "type": {"S": "ACS"},
            "status": {"S": status},
            "requestedAt": {"N": str(requested_at)},
            "expiresAt": {"N": str(requested_at + 3600)},
            **{k: {"S": v} for k, v in extra.items()},
        },
    )


def add_environment(environment_id: str, created_at: str, status: str = "WARM") -> None:
    boto3.client("dynamodb").put_item(
        TableName=TABLE,
        Item={
            "environmentId": {"S": environment_id},
            "status": {"S": status},
            "stackName": {"S": f"trial-env-{environment_id}"},
            "createdAt": {"S": created_at},
        },
    )


def item(environment_id: str) -> dict[str, Any]:
    return boto3.client("dynamodb").get_item(TableName=TABLE, Key={"environmentId": {"S": environment_id}})[
        "Item"
    ]


def trial_row(trial_id: str) -> dict[str, Any]:
    return boto3.client("dynamodb").get_item(TableName=TRIALS, Key={"trialId": {"S": trial_id}})["Item"]


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the pool table with three environments (one already claimed, one still provisioning) and
    # three requested trials
    create_pool_table(TABLE)
    create_trials_table(TRIALS)
    add_environment("e-newer", "2026-11-24T10:00:00.000Z")
    add_environment("e-older", "2026-11-24T09:00:00.000Z")
    add_environment("e-taken", "2026-11-24T08:00:00.000Z", status="CLAIMED")
    add_environment("e-booting", "2026-11-24T07:00:00.000Z", status="PROVISIONING")
    for trial_id in (TRIAL_A, TRIAL_B, TRIAL_C):
        put_trial(trial_id)
    monkeypatch.setenv("POOL_TABLE_NAME", TABLE)
    monkeypatch.setenv("TRIALS_TABLE_NAME", TRIALS)
    return load_handler("trial_pool.handler")


def claim(handler: ModuleType, trial_id: str) -> dict[str, str]:
    result: dict[str, str] = handler.lambda_handler(
        {"action": "claim", "trialId": trial_id}, FakeContext(function_name="trial-pool")
    )
    return result


def test_a_claim_takes_the_oldest_warm_environment_and_records_it_on_the_trial(handler: ModuleType) -> None:
    # When the workflow claims an environment for a trial
    result = claim(handler, TRIAL_A)
    # Then it gets the oldest WARM one (never a PROVISIONING one), now CLAIMED for that trial
    assert result == {"environmentId": "e-older", "stackName": "trial-env-e-older"}
    claimed = item("e-older")
    assert (claimed["status"]["S"], claimed["trialId"]["S"]) == ("CLAIMED", TRIAL_A)
    assert claimed["claimedAt"]["S"].endswith("Z")
    # And the trial row says ASSIGNED with that environment, written in the same transaction
    row = trial_row(TRIAL_A)
    assert (row["status"]["S"], row["environmentId"]["S"]) == ("ASSIGNED", "e-older")


def test_two_claims_get_two_different_environments(handler: ModuleType) -> None:
    first, second = claim(handler, TRIAL_A), claim(handler, TRIAL_B)
    assert {first["environmentId"], second["environmentId"]} == {"e-older", "e-newer"}
    assert item("e-newer")["trialId"]["S"] == TRIAL_B


def test_a_concurrent_claim_of_the_same_environment_makes_the_slower_one_take_the_next(
    handler: ModuleType,
) -> None:
    # Given trial B's claim lands between trial A's read of the WARM list and A's transaction
    raced = {"done": False}

    def trial_b_claims_first(**_: Any) -> None:
        if not raced["done"]:
            raced["done"] = True
            claim(handler, TRIAL_B)

    handler.session.events.register("before-call.dynamodb.TransactWriteItems", trial_b_claims_first)
    # When trial A claims
    result = claim(handler, TRIAL_A)
    # Then B kept the oldest, A's transaction failed its condition, and A took the next one
    assert item("e-older")["trialId"]["S"] == TRIAL_B
    assert result["environmentId"] == "e-newer"
    assert item("e-newer")["trialId"]["S"] == TRIAL_A


def test_a_retried_claim_racing_the_first_one_takes_no_second_environment(handler: ModuleType) -> None:
    # Given a retry of trial A's claim (a lost response) that records e-older on the row while the
    # first attempt is between its reads and its transaction
    raced = {"done": False}

    def the_retry_lands_first(**_: Any) -> None:
        if not raced["done"]:
            raced["done"] = True
            claim(handler, TRIAL_A)

    handler.session.events.register("before-call.dynamodb.TransactWriteItems", the_retry_lands_first)
    # When the first attempt goes on
    result = claim(handler, TRIAL_A)
    # Then its transaction fails on the trial row's condition and it answers with the recorded one
    assert result["environmentId"] == "e-older"
    assert trial_row(TRIAL_A)["environmentId"]["S"] == "e-older"
    # And the trial holds exactly one environment: the next one stays WARM
    assert item("e-newer")["status"]["S"] == "WARM"
    assert "trialId" not in item("e-newer")


def test_claiming_again_for_the_same_trial_returns_its_environment(handler: ModuleType) -> None:
    # Given a trial that has its environment (the workflow step is retried after a lost response)
    first = claim(handler, TRIAL_A)
    # When it claims again
    second = claim(handler, TRIAL_A)
    # Then it gets the same environment, and the other one stays WARM
    assert second == first
    assert item("e-newer")["status"]["S"] == "WARM"


def test_an_empty_pool_raises_pool_empty(handler: ModuleType) -> None:
    # Given both warm environments are taken
    claim(handler, TRIAL_A)
    claim(handler, TRIAL_B)
    # When a third trial claims
    with pytest.raises(handler.PoolEmpty) as error:
        claim(handler, TRIAL_C)
    # Then the error type is the one the workflow catches, and it names the trial
    assert type(error.value).__name__ == "PoolEmpty"
    assert str(error.value) == f"no warm environment for trial {TRIAL_C}"
    assert trial_row(TRIAL_C)["status"]["S"] == "REQUESTED"


@pytest.mark.parametrize("status", ["FAILED", "NEEDS_ATTENTION"])
def test_a_trial_no_longer_requested_claims_nothing(handler: ModuleType, status: str) -> None:
    put_trial(TRIAL_C, status=status)
    with pytest.raises(handler.TrialNotClaimable):
        claim(handler, TRIAL_C)
    assert item("e-older")["status"]["S"] == "WARM"


def test_a_trial_without_a_row_claims_nothing(handler: ModuleType) -> None:
    boto3.client("dynamodb").delete_item(TableName=TRIALS, Key={"trialId": {"S": TRIAL_C}})
    with pytest.raises(handler.TrialNotClaimable):
        claim(handler, TRIAL_C)
    assert item("e-older")["status"]["S"] == "WARM"


@pytest.mark.parametrize(
    "event",
    [
        {"action": "claim"},
        {"action": "refill"},
        {"trialId": TRIAL_A},
        {"action": "claim", "trialId": "x" * 2000},
    ],
)
def test_anything_but_a_claim_is_rejected_without_echoing_it(
    handler: ModuleType, event: dict[str, Any]
) -> None:
    with pytest.raises(handler.InvalidPoolRequest) as error:
        handler.lambda_handler(event, FakeContext())
    assert "refill" not in str(error.value) and "xxx" not in str(error.value)


def test_a_missing_setting_fails_the_init_naming_it(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POOL_TABLE_NAME", TABLE)
    monkeypatch.delenv("TRIALS_TABLE_NAME", raising=False)
    with pytest.raises(RuntimeError, match="TRIALS_TABLE_NAME is not set"):
        load_handler("trial_pool.handler")


def test_every_log_line_carries_the_trial_id_as_correlation_id(handler: ModuleType) -> None:
    with log_lines(handler.logger) as lines:
        claim(handler, TRIAL_A)
    assert lines and set(correlation_ids(lines)) == {TRIAL_A}
