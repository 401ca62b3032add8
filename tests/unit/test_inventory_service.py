"""The inventory service with a fake stock store: reserve, commit, release, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from inventory.service import (
    InsufficientStock,
    InvalidInventoryRequest,
    NothingReserved,
    OutOfStock,
    handle,
    parse_request,
)

ORDER_ID = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a60"


class FakeStock:
    def __init__(self, available: dict[str, int]) -> None:
        self.available = available
        self.reservations: dict[str, dict[str, int]] = {}
        self.sold: set[str] = set()

    def reserve(self, order_id: str, quantities: dict[str, int]) -> bool:
        if order_id in self.reservations:
            return False
        for sku, quantity in quantities.items():
            if self.available.get(sku, 0) < quantity:
                raise InsufficientStock(sku, quantity)
        for sku, quantity in quantities.items():
            self.available[sku] -= quantity
        self.reservations[order_id] = quantities
        return True

    def commit(self, order_id: str) -> bool:
        if order_id not in self.reservations:
            raise NothingReserved(order_id)
        if order_id in self.sold:
            return False
        self.sold.add(order_id)
        return True

    def release(self, order_id: str) -> bool:
        held = self.reservations.pop(order_id, None)
        self.sold.discard(order_id)
        for sku, quantity in (held or {}).items():
            self.available[sku] += quantity
        return held is not None


def inventory_event(action: str, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"action": action, "orderId": ORDER_ID, "lines": lines or []}


def test_reserve_then_release_returns_the_stock() -> None:
    # Given stock, and the workflow's reserve payload (whole order lines, prices included)
    stock = FakeStock({"BOOK-0001": 5})
    lines = [{"sku": "BOOK-0001", "quantity": 2, "unitPriceCents": 1250}]
    # When the order is reserved, then released
    reserved = handle(parse_request(inventory_event("reserve", lines)), store=stock)
    after_reserve = dict(stock.available)
    released = handle(parse_request(inventory_event("release")), store=stock)
    # Then both report success and the stock is back
    assert reserved == {"reserved": True, "orderId": ORDER_ID}
    assert after_reserve == {"BOOK-0001": 3}
    assert released == {"released": True} and stock.available == {"BOOK-0001": 5}


def test_repeated_skus_are_reserved_as_one_quantity() -> None:
    request = parse_request(
        inventory_event("reserve", [{"sku": "A-1", "quantity": 2}, {"sku": "A-1", "quantity": 3}])
    )
    assert request.quantities() == {"A-1": 5}


def test_too_little_stock_is_out_of_stock_naming_the_sku() -> None:
    stock = FakeStock({"BOOK-0001": 1})
    with pytest.raises(OutOfStock, match="sku BOOK-0001: requested 2"):
        handle(parse_request(inventory_event("reserve", [{"sku": "BOOK-0001", "quantity": 2}])), store=stock)
    assert stock.available == {"BOOK-0001": 1}


@pytest.mark.parametrize(
    ("event", "why"),
    [
        ({"action": "restock", "orderId": ORDER_ID, "lines": []}, "action"),
        ({"action": "reserve", "orderId": ORDER_ID, "lines": []}, "at least one line"),
        ({"action": "reserve", "orderId": "x", "lines": [{"sku": "A", "quantity": 1}]}, "orderId"),
        ({"action": "reserve", "orderId": ORDER_ID, "lines": [{"sku": "A", "quantity": 0}]}, "quantity"),
        ({"orderId": ORDER_ID}, "action"),
        ("reserve", "body"),
    ],
)
def test_a_malformed_inventory_request_is_refused_clearly(event: Any, why: str) -> None:
    with pytest.raises(InvalidInventoryRequest, match=why):
        parse_request(event)


def test_an_invalid_request_is_described_without_its_values() -> None:
    with pytest.raises(InvalidInventoryRequest) as error:
        parse_request(
            {"action": "reserve", "orderId": "SENTINEL-x", "lines": [{"sku": "SENTINEL", "quantity": 0}]}
        )
    assert "SENTINEL" not in str(error.value)


def test_commit_sells_the_reservation_once_and_refuses_an_order_never_reserved() -> None:
    # Given a reserved order
    stock = FakeStock({"BOOK-0001": 5})
    handle(parse_request(inventory_event("reserve", [{"sku": "BOOK-0001", "quantity": 2}])), store=stock)
    # When it is committed twice (a rerun of fulfillment)
    first = handle(parse_request(inventory_event("commit")), store=stock)
    second = handle(parse_request(inventory_event("commit")), store=stock)
    # Then the first commit sells, the second changes nothing
    assert (first, second) == ({"committed": True}, {"committed": False})
    # And an order with no reservation cannot be committed
    other = {"action": "commit", "orderId": "0b7e0c8a-1d2f-4e3a-9b8c-7d6e5f4a3b21"}
    with pytest.raises(NothingReserved):
        handle(parse_request(other), store=stock)
