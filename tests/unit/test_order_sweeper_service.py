"""The order sweeper with a fake index: stuck orders go to NEEDS_ATTENTION, moving ones are left alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from order_sweeper.service import OPEN_STATUSES, OpenOrder, sweep

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class FakeOrders:
    def __init__(self, orders: list[OpenOrder]) -> None:
        self.orders = {o.order_id: o for o in orders}
        self.moved: dict[str, str] = {}
        self.move_first: set[str] = set()  # orders another writer moves just before the sweeper

    def last_updated_before(self, status: str, cutoff: str) -> Iterator[OpenOrder]:
        yield from (o for o in list(self.orders.values()) if o.status == status and o.updated_at < cutoff)

    def mark_needs_attention(self, order: OpenOrder, *, reason: str, at: str) -> bool:
        if order.order_id in self.move_first:
            return False
        self.moved[order.order_id] = reason
        return True


def test_only_orders_past_their_deadline_in_an_open_status_are_moved() -> None:
    # Given orders in every status, some old, some fresh
    old, fresh = "2026-11-22T09:00:00.000Z", "2026-11-22T11:50:00.000Z"
    orders = [OpenOrder(f"old-{s}", s, old) for s in (*OPEN_STATUSES, "COMPLETED", "FAILED")]
    orders += [OpenOrder(f"fresh-{s}", s, fresh) for s in OPEN_STATUSES]
    fake = FakeOrders(orders)
    # When the sweeper runs with a 2-hour deadline
    result = sweep(fake, now=NOW, stuck_after=timedelta(hours=2))
    # Then the old open orders, and only they, need attention, each with the status it was stuck in
    assert set(fake.moved) == {f"old-{s}" for s in OPEN_STATUSES}
    assert fake.moved["old-PAID"] == "stuck in PAID past its deadline"
    assert (result.found, result.moved) == (4, 4)


def test_an_order_that_moved_meanwhile_is_counted_but_left_alone() -> None:
    fake = FakeOrders([OpenOrder("a", "PAID", "2026-11-22T09:00:00.000Z")])
    fake.move_first = {"a"}
    result = sweep(fake, now=NOW, stuck_after=timedelta(hours=2))
    assert (result.found, result.moved, fake.moved) == (1, 0, {})
