"""The order sweeper's handler against moto: a query of the status index, then conditional updates."""

from __future__ import annotations

from types import ModuleType

import boto3
import pytest

from tests.handlers.conftest import load_handler
from tests.handlers.logs import correlation_ids, log_lines
from tests.handlers.orders_conftest_helpers import context

ORDERS = "orders"
INDEX = "ByStatus"


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the orders table with its status index, and orders in several states and ages
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=ORDERS,
        KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("orderId", "status", "updatedAt")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": INDEX,
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "updatedAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for order_id, status, updated_at in [
        ("stuck-paid", "PAID", "2020-01-01T00:00:00.000Z"),
        ("stuck-pending", "PENDING", "2020-01-01T00:00:00.000Z"),
        ("done", "COMPLETED", "2020-01-01T00:00:00.000Z"),
        ("moving", "RESERVED", "2999-01-01T00:00:00.000Z"),
    ]:
        client.put_item(
            TableName=ORDERS,
            Item={"orderId": {"S": order_id}, "status": {"S": status}, "updatedAt": {"S": updated_at}},
        )
    monkeypatch.setenv("ORDERS_TABLE_NAME", ORDERS)
    monkeypatch.setenv("ORDERS_STATUS_INDEX_NAME", INDEX)
    monkeypatch.setenv("STUCK_AFTER_SECONDS", "8100")
    return load_handler("order_sweeper.handler")


def statuses() -> dict[str, tuple[str, str | None]]:
    items = boto3.client("dynamodb").scan(TableName=ORDERS)["Items"]
    return {i["orderId"]["S"]: (i["status"]["S"], i.get("previousStatus", {}).get("S")) for i in items}


def scheduled_event() -> dict[str, object]:
    return {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}, "resources": ["arn:rule"]}


def test_stuck_open_orders_go_to_needs_attention_and_the_rest_stay(handler: ModuleType) -> None:
    # When the schedule fires
    result = handler.lambda_handler(scheduled_event(), context("order-sweeper"))
    # Then the two stuck open orders need attention, with where they were; the others are untouched
    assert result == {"found": 2, "moved": 2}
    assert statuses() == {
        "stuck-paid": ("NEEDS_ATTENTION", "PAID"),
        "stuck-pending": ("NEEDS_ATTENTION", "PENDING"),
        "done": ("COMPLETED", None),
        "moving": ("RESERVED", None),
    }
    # And a second run finds nothing more to do
    assert handler.lambda_handler(scheduled_event(), context("order-sweeper")) == {"found": 0, "moved": 0}


def test_a_misconfigured_sweeper_fails_at_init(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUCK_AFTER_SECONDS", raising=False)
    monkeypatch.setenv("ORDERS_TABLE_NAME", ORDERS)
    monkeypatch.setenv("ORDERS_STATUS_INDEX_NAME", INDEX)
    with pytest.raises(RuntimeError, match="STUCK_AFTER_SECONDS"):
        load_handler("order_sweeper.handler")


def test_each_moved_order_is_logged_under_its_own_id_and_the_run_under_its_event_id(
    handler: ModuleType,
) -> None:
    with log_lines(handler.logger) as lines:
        handler.lambda_handler({**scheduled_event(), "id": "evt-sweep"}, context("order-sweeper"))
    moved = [line for line in lines if line["message"] == "Order moved to NEEDS_ATTENTION"]
    assert sorted(correlation_ids(moved)) == ["stuck-paid", "stuck-pending"]
    assert [line["order_id"] for line in moved] == correlation_ids(moved)
    assert correlation_ids([line for line in lines if line["message"] == "Sweep done"]) == ["evt-sweep"]
