"""moto's per-call costs that grew with the state it holds: a call's cost must not grow with the queue.

- Every SendMessage read the queue's attributes for ContentBasedDeduplication, and every message a
  ReceiveMessage returned read them for MessageRetentionPeriod. Building the attributes counts
  the queue's messages three times over, each message checked against the clock: a never-drained
  queue (a subscriber nobody reads locally) made every send slower than the one before. Inside
  those calls the three counts (never read there) are skipped.
- moto's SQS asks for the time as a naive UTC datetime and converts it back to epoch seconds, for
  every message it looks at; epoch time is what it wants.
- TransactWriteItems deep-copied every table it touched, to roll back a cancelled transaction:
  the inventory table grows an item per order. Now only the items it touches are kept, and put back
  if it is cancelled. Its stream records wait for the outcome: a cancelled transaction writes
  none, as on AWS (moto's rollback swapped the table, and with it the stream shard).
"""

from __future__ import annotations

import contextvars
import copy
import functools
import time
from collections.abc import Callable
from typing import Any

from localcloud.core.patches import PatchSet

_deferred_writes: contextvars.ContextVar[list[Callable[[], None]] | None] = contextvars.ContextVar(
    "deferred_stream_writes", default=None
)
_counting_skipped: contextvars.ContextVar[bool] = contextvars.ContextVar("counting_skipped", default=False)
_QUEUE = "moto.sqs.models:Queue"
_BACKEND = "moto.sqs.models:SQSBackend"
_COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)


def cost_patches() -> PatchSet:
    patches = PatchSet("moto costs")

    def without_counts(original: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            token = _counting_skipped.set(True)
            try:
                return original(*args, **kwargs)
            finally:
                _counting_skipped.reset(token)

        return call

    def skippable(original: Any) -> Any:
        def count(queue: Any) -> int:
            return 0 if _counting_skipped.get() else int(original.fget(queue))

        return property(count)

    for name in ("send_message", "send_message_batch", "receive_message"):
        patches.wrap(
            f"{_BACKEND}.{name}",
            without_counts,
            why="it reads one attribute of the queue; the message counts it does not read cost O(messages)",
        )
    for name in _COUNTS:
        patches.wrap(f"{_QUEUE}.{name}", skippable, why="skipped where nobody reads it (see above)")

    def epoch_seconds(original: Any) -> Any:
        def unix_time(dt: Any = None) -> float:
            return time.time() if dt is None else float(original(dt))

        return unix_time

    def epoch_millis(original: Any) -> Any:
        def unix_time_millis(dt: Any = None) -> float:
            return time.time() * 1000.0 if dt is None else float(original(dt))

        return unix_time_millis

    def remembered(original: Any) -> Any:
        return functools.lru_cache(maxsize=4096)(original)

    for module in ("moto.sqs.models", "moto.core.responses"):
        patches.wrap(
            f"{module}:camelcase_to_underscores",
            remembered,
            why="a name converted letter by letter on every use (each queue attribute, for every message "
            "received; each request's action): the same few names, converted once",
        )
    why = "now, in epoch time, without building a datetime and taking it apart (per message looked at)"
    patches.wrap("moto.sqs.models:unix_time", epoch_seconds, why=why)
    patches.wrap("moto.sqs.models:unix_time_millis", epoch_millis, why=why)
    _transactions(patches)
    return patches


def defer_stream_write(write: Callable[[], None]) -> bool:
    """Inside a transaction, a stream record waits for its outcome (True); elsewhere it is written now."""
    pending = _deferred_writes.get()
    if pending is None:
        return False
    pending.append(write)
    return True


class _TablesKept:
    """Stands in for `copy` in moto's DynamoDB backend: inside a transaction a table is not copied."""

    def __init__(self) -> None:
        from moto.dynamodb.models.table import Table

        self._table = Table

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if _deferred_writes.get() is not None and isinstance(value, self._table):
            return value  # the transaction keeps the items it touches instead (see below)
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _transactions(patches: PatchSet) -> None:
    def item_level(original: Any) -> Any:
        def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> Any:
            kept = _touched(backend, transact_items)
            pending: list[Callable[[], None]] = []
            token = _deferred_writes.set(pending)
            try:
                result = original(backend, transact_items)
            except BaseException:
                for table, hash_key, range_key, item in reversed(kept):
                    _put_back(table, hash_key, range_key, item)
                raise
            finally:
                _deferred_writes.reset(token)
            for write in pending:
                write()
            return result

        return transact_write_items

    patches.wrap(
        "moto.dynamodb.models:DynamoDBBackend.transact_write_items",
        item_level,
        why="a copy of every table touched per transaction: a cost that grew with the table",
    )
    patches.replace("moto.dynamodb.models:copy", _TablesKept(), why="see transact_write_items")


def _touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash key, range key, a copy of the item or None) for every item the transaction names."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    kept = []
    for entry in transact_items:
        for operation in entry.values():
            table = backend.tables.get(operation.get("TableName")) if isinstance(operation, dict) else None
            if table is None:
                continue
            key = operation.get("Key") or operation.get("Item") or {}
            if table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
                continue  # moto refuses it before writing anything
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            kept.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
    return kept


def _put_back(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    items = table.items[hash_key] if range_key is not None else table.items
    key = range_key if range_key is not None else hash_key
    if item is None:
        items.pop(key, None)
    else:
        items[key] = item
