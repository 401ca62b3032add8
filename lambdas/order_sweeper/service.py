"""Finds orders stuck in a non-final status past their deadline and hands them to an operator.

An order's deadline is `updatedAt + stuck_after`: no workflow holds an order in one status longer
than its own timeout, so an order older than that will not move by itself. Each is moved to
NEEDS_ATTENTION with a conditional write on the status and `updatedAt` it was found with: an order
that moved meanwhile is left alone. The outbox then publishes OrderNeedsAttention.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

# Every status no workflow has finished with (shared.contracts.orders.FINAL_STATUSES are the rest).
OPEN_STATUSES = ("PENDING", "PROCESSING", "RESERVED", "PAID")


@dataclass(frozen=True)
class OpenOrder:
    order_id: str
    status: str
    updated_at: str


class OpenOrders(Protocol):
    def last_updated_before(self, status: str, cutoff: str) -> Iterable[OpenOrder]:
        """The orders in `status` whose `updatedAt` is before `cutoff` (ISO-8601, UTC, Z)."""
        ...

    def mark_needs_attention(self, order: OpenOrder, *, reason: str, at: str) -> bool:
        """Status -> NEEDS_ATTENTION if the order is still as found; False when it moved meanwhile."""
        ...


@dataclass(frozen=True)
class SweepResult:
    found: int
    moved: int
    order_ids: tuple[str, ...]


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sweep(orders: OpenOrders, *, now: datetime, stuck_after: timedelta) -> SweepResult:
    cutoff = iso(now - stuck_after)
    found = moved = 0
    moved_ids: list[str] = []
    for status in OPEN_STATUSES:
        for order in orders.last_updated_before(status, cutoff):
            found += 1
            reason = f"stuck in {order.status} past its deadline"
            if orders.mark_needs_attention(order, reason=reason, at=iso(now)):
                moved += 1
                moved_ids.append(order.order_id)
    return SweepResult(found=found, moved=moved, order_ids=tuple(moved_ids))
