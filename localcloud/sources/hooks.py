"""Where moto would invoke a function inside a write, localcloud's poller is told instead.

moto 5.2.5 invokes the function synchronously inside the write (Queue.add_message,
StreamShard.add). While a poller runs, these patches apply (to its account and region only):
- Queue.add_message: wrapped; while it runs, the queue's `lambda_event_source_mappings` reads as
  empty (a data descriptor on Queue), so moto's inline receive + invoke loop has nothing to do.
  Afterwards the poller is woken.
- StreamShard.add: replaced; it appends the record under a lock (moto numbered records by list
  length and cleared the list after each synchronous invoke: concurrent writers got duplicate
  sequence numbers and unsent records were sent again), never clears the shard, stamps the record
  with localcloud's clock and the table's region, adds the TTL service identity, and wakes the poller.
- LambdaBackend.create_event_source_mapping / update_event_source_mapping: wrapped, so a new
  mapping fixes its LATEST position at creation and an enabled or changed mapping is polled at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localcloud.core.costs import defer_stream_write
from localcloud.core.patches import PatchSet

if TYPE_CHECKING:
    from localcloud.sources.poller import EventSourcePoller

# A TTL deletion's identity as the DynamoDB Streams API (GetRecords) spells it.
TTL_IDENTITY_API = {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
# Where a stream record keeps its creation time by localcloud's clock (moto's datetime drops the offset).
CREATED = "_localcloud_created"
# One lock for every stream append: sequence numbers are taken from the shard's length.
STREAM_LOCK = threading.RLock()

_QUEUE_MAPPINGS = "lambda_event_source_mappings"
# Set by the add_message wrapper: this thread is inside moto's add_message.
_adding_message: contextvars.ContextVar[bool] = contextvars.ContextVar("adding_message", default=False)
# Set by the TTL sweeper: deletions on this thread are DynamoDB's, not a user's.
_ttl_deleting: contextvars.ContextVar[bool] = contextvars.ContextVar("ttl_deleting", default=False)
_fifo_sequence_numbers = itertools.count(18_000_000_000_000_000_000)


@contextlib.contextmanager
def ttl_deletion() -> Iterator[None]:
    """Deletions in the block are the TTL service's: their REMOVE records carry its identity."""
    token = _ttl_deleting.set(True)
    try:
        yield
    finally:
        _ttl_deleting.reset(token)


def append_stream_record(shard: Any, old: Any, new: Any, *, now: float, ttl: bool) -> Any:
    """Appends one stream record as DynamoDB writes it; moto's StreamRecord builds keys and images."""
    from moto.dynamodb.models.table import StreamRecord

    table = shard.table
    view = (table.stream_specification or {}).get("StreamViewType", "KEYS_ONLY")
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    with STREAM_LOCK:
        sequence_number = shard.starting_sequence_number + len(shard.items)
        record = StreamRecord(table, view, event_name, old, new, sequence_number)
        body = record.record
        body["awsRegion"] = table.region_name
        body["dynamodb"]["ApproximateCreationDateTime"] = datetime.fromtimestamp(now, UTC).replace(
            tzinfo=None
        )
        if ttl and event_name == "REMOVE":
            body["userIdentity"] = dict(TTL_IDENTITY_API)
        setattr(record, CREATED, now)
        shard.items.append(record)
    return record


def source_patches(poller: EventSourcePoller) -> PatchSet:
    """The patch set that hands moto's event source mappings (of the poller's region) to the poller."""
    patches = PatchSet("event sources")

    def ours(account_id: str, region: str) -> bool:
        return poller.running and (account_id, region) == (poller.account_id, poller.region)

    class QueueMappings:
        """Queue.lambda_event_source_mappings: empty inside add_message while the poller owns the queue."""

        def __get__(self, queue: Any, owner: type | None = None) -> Any:
            if queue is None:
                return self
            mappings = queue.__dict__.setdefault(_QUEUE_MAPPINGS, {})
            if _adding_message.get() and ours(queue.account_id, queue.region):
                return {}
            return mappings

        def __set__(self, queue: Any, value: Any) -> None:
            queue.__dict__[_QUEUE_MAPPINGS] = value

    def adding(original: Any) -> Any:
        def add_message(queue: Any, message: Any) -> None:
            mine = ours(queue.account_id, queue.region)
            if mine and queue.fifo_queue and message.sequence_number is None:
                # SQS numbers every FIFO message (Lambda events show it); moto only when given a dedup id.
                message.sequence_number = f"{next(_fifo_sequence_numbers):020d}"
            token = _adding_message.set(True)
            try:
                original(queue, message)
            finally:
                _adding_message.reset(token)
            if mine:
                poller.source_changed(queue.queue_arn)

        return add_message

    def appending(original: Any) -> Any:
        def add(shard: Any, old: Any, new: Any) -> None:
            table = shard.table
            if not ours(shard.account_id, table.region_name):
                original(shard, old, new)
                return
            now, ttl = poller.clock.now(), _ttl_deleting.get()

            def write() -> None:
                append_stream_record(shard, old, new, now=now, ttl=ttl)
                poller.source_changed(f"{table.table_arn}/stream/{table.latest_stream_label}")

            if not defer_stream_write(write):  # a transaction's records wait for its outcome
                write()

        return add

    def watching(original: Any) -> Any:
        def change(backend: Any, *args: Any) -> Any:
            mapping = original(backend, *args)
            if mapping is not None and ours(backend.account_id, backend.region_name):
                poller.mapping_changed(mapping)
            return mapping

        return change

    patches.add(
        f"moto.sqs.models:Queue.{_QUEUE_MAPPINGS}",
        QueueMappings(),
        why="moto receives and invokes inside every send; the poller does it in batches, as Lambda does",
    )
    patches.wrap("moto.sqs.models:Queue.add_message", adding, why="a send wakes the queue's poller")
    patches.wrap(
        "moto.dynamodb.models.table:StreamShard.add",
        appending,
        why="moto invokes inside each write, numbers records by list length and clears the shard; "
        "DynamoDB keeps 24 h of records, numbered once, read by the poller",
    )
    for name in ("create_event_source_mapping", "update_event_source_mapping"):
        patches.wrap(
            f"moto.awslambda.models:LambdaBackend.{name}",
            watching,
            why="a new mapping fixes its LATEST position at once; a changed one is polled at once",
        )
    return patches
