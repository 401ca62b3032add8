"""The inventory handler against moto: atomic reservations, idempotent reserve and release, out of stock."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import boto3
import pytest

from tests.handlers.conftest import load_handler
from tests.handlers.logs import correlation_ids, log_lines
from tests.handlers.orders_conftest_helpers import ORDER_ID, OTHER_ORDER_ID, context, create_table, scan

TABLE = "inventory"
LINES = [
    {"sku": "BOOK-0001", "quantity": 2, "unitPriceCents": 1250},
    {"sku": "MUG-0042", "quantity": 1, "unitPriceCents": 899},
]


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Given the inventory table with stock of two SKUs
    create_table(TABLE, "sku")
    client = boto3.client("dynamodb")
    for sku, available in {"BOOK-0001": 5, "MUG-0042": 1}.items():
        client.put_item(
            TableName=TABLE,
            Item={"sku": {"S": sku}, "available": {"N": str(available)}, "reserved": {"N": "0"}},
        )
    monkeypatch.setenv("INVENTORY_TABLE_NAME", TABLE)
    return load_handler("inventory.handler")


def invoke(handler: ModuleType, action: str, order_id: str = ORDER_ID, lines: Any = None) -> Any:
    event = {"action": action, "orderId": order_id, "lines": LINES if lines is None else lines}
    return handler.lambda_handler(event, context("inventory"))


def stock() -> dict[str, tuple[int, int]]:
    return {
        item["sku"]: (int(item["available"]), int(item["reserved"]))
        for item in scan(TABLE)
        if not item["sku"].startswith("reservation#")
    }


def sold() -> dict[str, int]:
    return {
        item["sku"]: int(item.get("sold", 0))
        for item in scan(TABLE)
        if not item["sku"].startswith("reservation#")
    }


def markers() -> list[dict[str, Any]]:
    return [item for item in scan(TABLE) if item["sku"].startswith("reservation#")]


def test_reserving_moves_every_line_from_available_to_reserved(handler: ModuleType) -> None:
    # When the workflow reserves an order's lines
    result = invoke(handler, "reserve")
    # Then every SKU moved its quantity, and the reservation is recorded for the order
    assert result == {"reserved": True, "orderId": ORDER_ID}
    assert stock() == {"BOOK-0001": (3, 2), "MUG-0042": (0, 1)}
    [marker] = markers()
    assert marker["sku"] == f"reservation#{ORDER_ID}"
    assert [(line["sku"], int(line["quantity"])) for line in marker["lines"]] == [
        ("BOOK-0001", 2),
        ("MUG-0042", 1),
    ]


def test_reserving_the_same_order_twice_reserves_once(handler: ModuleType) -> None:
    # Given an order already reserved (the workflow retried the task after a lost response)
    invoke(handler, "reserve")
    # When the same reservation arrives again
    result = invoke(handler, "reserve")
    # Then it succeeds without taking more stock
    assert result == {"reserved": True, "orderId": ORDER_ID}
    assert stock() == {"BOOK-0001": (3, 2), "MUG-0042": (0, 1)}


def test_a_line_short_of_stock_is_out_of_stock_and_nothing_is_reserved(handler: ModuleType) -> None:
    # Given one order holding the only mug
    invoke(handler, "reserve")
    # When another order wants a book and a mug
    with pytest.raises(handler.OutOfStock) as error:
        invoke(handler, "reserve", order_id=OTHER_ORDER_ID)
    # Then it fails as OutOfStock (the errorType the workflow catches), naming the SKU, and takes nothing
    assert type(error.value).__name__ == "OutOfStock"
    assert str(error.value) == "sku MUG-0042: requested 1"
    assert stock() == {"BOOK-0001": (3, 2), "MUG-0042": (0, 1)}
    assert len(markers()) == 1


def test_an_unknown_sku_is_out_of_stock_and_creates_no_item(handler: ModuleType) -> None:
    with pytest.raises(handler.OutOfStock, match="sku GHOST-1: requested 1"):
        invoke(handler, "reserve", lines=[{"sku": "GHOST-1", "quantity": 1}])
    assert "GHOST-1" not in stock() and markers() == []


def test_releasing_returns_the_reserved_stock_once(handler: ModuleType) -> None:
    # Given a reserved order
    invoke(handler, "reserve")
    # When the workflow's compensation releases it, twice
    first = invoke(handler, "release")
    second = invoke(handler, "release")
    # Then the stock is back as it was, and the second release changes nothing
    assert (first, second) == ({"released": True}, {"released": False})
    assert stock() == {"BOOK-0001": (5, 0), "MUG-0042": (1, 0)}
    assert markers() == []


def test_committing_sells_the_reservation_once(handler: ModuleType) -> None:
    # Given a reserved order
    invoke(handler, "reserve")
    # When fulfillment commits it, twice (a rerun of the Express child)
    first = invoke(handler, "commit")
    second = invoke(handler, "commit")
    # Then reserved moved to sold once; available + reserved + sold is what it was
    assert (first, second) == ({"committed": True}, {"committed": False})
    assert stock() == {"BOOK-0001": (3, 0), "MUG-0042": (0, 0)}
    assert sold() == {"BOOK-0001": 2, "MUG-0042": 1}


def test_committing_an_order_never_reserved_fails_and_changes_nothing(handler: ModuleType) -> None:
    # Raised: its class name is the errorType fulfillment fails with (and compensates)
    with pytest.raises(Exception, match="holds no reservation") as error:
        invoke(handler, "commit", order_id=OTHER_ORDER_ID)
    assert type(error.value).__name__ == "NothingReserved"
    assert stock() == {"BOOK-0001": (5, 0), "MUG-0042": (1, 0)} and markers() == []


def test_releasing_a_sold_order_gives_the_sold_stock_back_once(handler: ModuleType) -> None:
    # Given an order whose stock was committed, then failed (the COMPLETED write was refused)
    invoke(handler, "reserve")
    invoke(handler, "commit")
    # When compensation releases it, twice
    first = invoke(handler, "release")
    second = invoke(handler, "release")
    # Then everything is available again, once
    assert (first, second) == ({"released": True}, {"released": False})
    assert stock() == {"BOOK-0001": (5, 0), "MUG-0042": (1, 0)}
    assert sold() == {"BOOK-0001": 0, "MUG-0042": 0}


def test_releasing_an_order_never_reserved_changes_nothing(handler: ModuleType) -> None:
    assert invoke(handler, "release", order_id=OTHER_ORDER_ID) == {"released": False}
    assert stock() == {"BOOK-0001": (5, 0), "MUG-0042": (1, 0)}


def test_release_gives_back_what_was_reserved_whatever_lines_it_is_sent(handler: ModuleType) -> None:
    invoke(handler, "reserve")
    invoke(handler, "release", lines=[{"sku": "BOOK-0001", "quantity": 1}])
    assert stock() == {"BOOK-0001": (5, 0), "MUG-0042": (1, 0)}


@pytest.mark.parametrize(
    "event",
    [
        {"action": "restock", "orderId": ORDER_ID, "lines": LINES},
        {"action": "reserve", "orderId": ORDER_ID},
        {"action": "reserve", "orderId": "order-1", "lines": LINES},
        {"action": "reserve", "orderId": ORDER_ID, "lines": [{"sku": "BOOK-0001"}]},
    ],
)
def test_a_malformed_request_is_refused_clearly_and_changes_nothing(
    handler: ModuleType, event: dict[str, Any]
) -> None:
    with pytest.raises(handler.InvalidInventoryRequest, match="invalid inventory request"):
        handler.lambda_handler(event, context("inventory"))
    assert stock() == {"BOOK-0001": (5, 0), "MUG-0042": (1, 0)}


def test_a_transaction_conflict_is_tried_again(handler: ModuleType) -> None:
    # Given a first attempt that loses a race with a concurrent transaction
    store = handler.stock()
    store._sleep = lambda _: None
    client = store._client
    original = client.transact_write_items
    attempts: list[int] = []

    def conflicting(**kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            from botocore.exceptions import ClientError

            reasons = [{"Code": "None"}, {"Code": "TransactionConflict"}, {"Code": "None"}]
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        return original(**kwargs)

    client.transact_write_items = conflicting
    # When the order is reserved
    result = invoke(handler, "reserve")
    # Then the second attempt commits
    assert result["reserved"] is True and len(attempts) == 2
    assert stock() == {"BOOK-0001": (3, 2), "MUG-0042": (0, 1)}


def test_every_log_line_carries_the_order_id_as_correlation_id(handler: ModuleType) -> None:
    with log_lines(handler.logger) as lines:
        invoke(handler, "reserve", OTHER_ORDER_ID)
    assert lines and set(correlation_ids(lines)) == {OTHER_ORDER_ID}
