"""DynamoDB TTL: a sweeper deletes expired items, and their REMOVE records carry the service's identity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.core.backends import BACKENDS
from localcloud.core.scheduler import Scheduler
from localcloud.sources.hooks import ttl_deletion

if TYPE_CHECKING:
    from localcloud.sources.poller import EventSourcePoller

# DynamoDB deletes expired items within days; localcloud sweeps every minute (compressed in fast mode).
TTL_SWEEP_SECONDS = 60.0
# DynamoDB does not delete items whose TTL lies more than five years in the past (documented by AWS:
# such a value is taken as not meant as an expiry time).
TTL_IGNORED_BEYOND_SECONDS = 5 * 365 * 86_400.0


class TtlSweeper:
    """Sweeps every table with TTL enabled periodically, and at once when the local clock is advanced."""

    def __init__(self, poller: EventSourcePoller, scheduler: Scheduler, interval: float | None) -> None:
        self._poller = poller
        self._scheduler = scheduler
        self._interval = interval if interval is not None else poller.recurring(TTL_SWEEP_SECONDS)
        self._generation = 0
        self._listening = False

    def start(self) -> None:
        self._generation += 1
        generation = self._generation
        if not self._listening:
            self._poller.clock.on_advance(self._on_clock_advance)
            self._listening = True
        self._scheduler.submit(
            lambda: self._tick(generation), delay=self._interval, name="ttl sweep", background=True
        )

    def stop(self) -> None:
        self._generation += 1  # the scheduled tick finds itself outdated

    def sweep(self) -> None:
        """Deletes the expired items of every table with TTL enabled."""
        from moto.dynamodb.models import dynamodb_backends

        poller = self._poller
        now = poller.clock.now()
        with BACKENDS:
            tables = list(dynamodb_backends[poller.account_id][poller.region].tables.values())
        for table in tables:
            ttl = table.ttl or {}
            attribute = ttl.get("AttributeName")
            if ttl.get("TimeToLiveStatus") != "ENABLED" or not attribute:
                continue
            removed = 0
            with BACKENDS, ttl_deletion():
                for item in [item for item in table.all_items() if _expired(item, attribute, now)]:
                    table.delete_item(item.hash_key, item.range_key)
                    removed += 1
            if removed:
                poller.trace.emit(
                    "ttl",
                    f"{table.name}: {removed} expired item(s) deleted by TTL ({attribute} < now)",
                    table=table.name,
                    items=removed,
                )

    def _on_clock_advance(self, _now: float) -> None:
        if self._poller.running:
            self._scheduler.submit(self.sweep, name="ttl sweep (clock advanced)")

    def _tick(self, generation: int) -> None:
        if not self._poller.running or generation != self._generation:
            return
        try:
            self.sweep()
        finally:
            if self._poller.running and generation == self._generation:
                self._scheduler.submit(
                    lambda: self._tick(generation), delay=self._interval, name="ttl sweep", background=True
                )


def _expired(item: Any, attribute: str, now: float) -> bool:
    """DynamoDB's rule: a Number attribute, in epoch seconds, in the past but not more than five years."""
    value = item.attrs.get(attribute)
    if value is None or value.type != "N":
        return False
    try:
        expires = float(value.value)
    except (TypeError, ValueError):
        return False
    return now - TTL_IGNORED_BEYOND_SECONDS <= expires < now
