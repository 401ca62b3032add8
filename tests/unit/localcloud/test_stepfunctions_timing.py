"""Tests for time in executions: fast mode's Wait states, Retry back-offs and execution timeouts.

Each test's AWS timing is far longer than the minute `finish()` waits for an execution: an
execution that ends at all ended in fast mode's time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.localcloud import sfn_helpers
from tests.unit.localcloud.running_cloud import Cloud
from tests.unit.localcloud.sfn_helpers import history_types, machine, output, run, sfn_cloud, task

sfn = sfn_helpers.sfn

# An execution's TimeoutSeconds never drops below this many real seconds here.
MIN_EXECUTION_DEADLINE = 2.0


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with sfn_cloud(
        tmp_path_factory.mktemp("state"), min_execution_deadline=MIN_EXECUTION_DEADLINE
    ) as running:
        yield running


def test_fast_mode_waits_take_a_fraction_of_their_seconds(sfn: Any) -> None:
    # Given a machine that waits 60 s, a path's 120 s, and until a timestamp 2 minutes ahead (twice)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    waits = machine(
        sfn,
        "waits",
        {
            "Seconds": {"Type": "Wait", "Seconds": 60, "Next": "SecondsPath"},
            "SecondsPath": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Timestamp"},
            "Timestamp": {"Type": "Wait", "Timestamp": later, "Next": "TimestampPath"},
            "TimestampPath": {"Type": "Wait", "TimestampPath": "$.until", "End": True},
        },
    )

    # When it runs in fast mode (AWS: about 7 minutes)
    described = run(sfn, waits, {"wait": 120, "until": later})

    # Then it succeeded, having passed every Wait, with its input as its output
    assert output(described) == {"wait": 120, "until": later}
    assert history_types(sfn, described["executionArn"]).count("WaitStateExited") == 4


def test_fast_mode_retry_backoff_is_compressed(cloud: Cloud, sfn: Any) -> None:
    # Given a conditional write that always fails, retried 3 times from 100 s doubling (AWS: 700 s)
    dynamodb = cloud.client("dynamodb")
    dynamodb.create_table(
        TableName="retried",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName="retried", Item={"id": {"S": "o-1"}})
    retried = machine(
        sfn,
        "retry",
        {
            "Put": task(
                "arn:aws:states:::dynamodb:putItem",
                {
                    "TableName": "retried",
                    "Item": {"id": {"S": "o-1"}},
                    "ConditionExpression": "attribute_not_exists(id)",
                },
                Retry=[
                    {
                        "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                        "IntervalSeconds": 100,
                        "BackoffRate": 2,
                        "MaxAttempts": 3,
                        "MaxDelaySeconds": 600,
                    }
                ],
            )
        },
    )

    # When it runs in fast mode
    described = run(sfn, retried)

    # Then all four attempts ran and the execution failed with the condition's error
    assert described["status"] == "FAILED"
    assert described["error"] == "DynamoDB.ConditionalCheckFailedException"
    assert history_types(sfn, described["executionArn"]).count("TaskScheduled") == 4


def test_execution_timeout_is_honoured_scaled_in_fast_mode(sfn: Any) -> None:
    # Given a machine with TimeoutSeconds 60 that waits ten hours (fast mode: 36 s)
    slow = machine(sfn, "slow", {"W": {"Type": "Wait", "Seconds": 36000, "End": True}}, TimeoutSeconds=60)

    # When it runs in fast mode
    described = run(sfn, slow)

    # Then it timed out before the wait ended, and says when it stopped
    assert described["status"] == "TIMED_OUT"
    assert described["stopDate"] >= described["startDate"]
    assert "ExecutionTimedOut" in history_types(sfn, described["executionArn"])
