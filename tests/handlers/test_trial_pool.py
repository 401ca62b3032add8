"""The trial-pool handler against moto: claims take the oldest WARM environment, once per trial."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.handlers.conftest import FakeContext, load_handler

TABLE = "pool"
TRIAL_A = "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c"
TRIAL_B = "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"


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


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the pool table with three environments, one of them already claimed
    create_pool_table(TABLE)
    add_environment("e-newer", "2026-11-24T10:00:00.000Z")
    add_environment("e-older", "2026-11-24T09:00:00.000Z")
    add_environment("e-taken", "2026-11-24T08:00:00.000Z", status="CLAIMED")
    monkeypatch.setenv("POOL_TABLE_NAME", TABLE)
    return load_handler("trial_pool.handler")


def claim(handler: ModuleType, trial_id: str) -> dict[str, str]:
    result: dict[str, str] = handler.lambda_handler(
        {"action": "claim", "trialId": trial_id}, FakeContext(function_name="trial-pool")
    )
    return result


def test_a_claim_takes_the_oldest_warm_environment(handler: ModuleType) -> None:
    # When the workflow claims an environment for a trial
    result = claim(handler, TRIAL_A)
    # Then it gets the oldest WARM one, now CLAIMED for that trial with the time of the claim
    assert result == {"environmentId": "e-older", "stackName": "trial-env-e-older"}
    claimed = item("e-older")
    assert (claimed["status"]["S"], claimed["trialId"]["S"]) == ("CLAIMED", TRIAL_A)
    assert claimed["claimedAt"]["S"].endswith("Z")


def test_two_claims_get_two_different_environments(handler: ModuleType) -> None:
    first, second = claim(handler, TRIAL_A), claim(handler, TRIAL_B)
    assert {first["environmentId"], second["environmentId"]} == {"e-older", "e-newer"}
    assert item("e-newer")["trialId"]["S"] == TRIAL_B


def test_a_concurrent_claim_of_the_same_environment_makes_the_slower_one_take_the_next(
    handler: ModuleType,
) -> None:
    # Given trial B's claim lands between trial A's read of the WARM list and A's conditional update
    raced = {"done": False}

    def trial_b_claims_first(**_: Any) -> None:
        if not raced["done"]:
            raced["done"] = True
            claim(handler, TRIAL_B)

    handler.session.events.register("before-call.dynamodb.UpdateItem", trial_b_claims_first)
    # When trial A claims
    result = claim(handler, TRIAL_A)
    # Then B kept the oldest, A's update failed its condition, and A took the next one
    assert item("e-older")["trialId"]["S"] == TRIAL_B
    assert result["environmentId"] == "e-newer"
    assert item("e-newer")["trialId"]["S"] == TRIAL_A


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
    third = "00000000-0000-4000-8000-000000000003"
    with pytest.raises(handler.PoolEmpty) as error:
        claim(handler, third)
    # Then the error type is the one the workflow catches, and it names the trial
    assert type(error.value).__name__ == "PoolEmpty"
    assert str(error.value) == f"no warm environment for trial {third}"


@pytest.mark.parametrize("event", [{"action": "claim"}, {"action": "refill"}, {"trialId": TRIAL_A}])
def test_anything_but_a_claim_is_rejected(handler: ModuleType, event: dict[str, Any]) -> None:
    with pytest.raises(handler.InvalidPoolRequest):
        handler.lambda_handler(event, FakeContext())
