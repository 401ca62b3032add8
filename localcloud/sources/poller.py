"""Lambda event source mappings as AWS runs them: SQS and DynamoDB streams in batches, and TTL expiry."""

# What AWS does and this module reproduces, per mapping, on the scheduler's single worker thread:
# - SQS: receive up to BatchSize with the queue's visibility timeout, wait up to
#   MaximumBatchingWindowInSeconds to fill a batch, delete on success, delete all but the reported
#   `batchItemFailures` with ReportBatchItemFailures, leave the batch on error. moto's SQS moves a message
#   to the queue's DLQ on the receive after maxReceiveCount (checked in moto 5.2.5), so redrive is moto's;
#   this module only reports it.
# - DynamoDB streams: read the shard from StartingPosition, FilterCriteria, BatchSize and the batching
#   window, retries with checkpointing (ReportBatchItemFailures), BisectBatchOnFunctionError,
#   MaximumRetryAttempts and MaximumRecordAgeInSeconds (default: the stream's 24 h retention), then the
#   OnFailure destination (SQS or SNS) and on to the next records: order is kept per shard.
# - TTL: a sweeper deletes expired items, whose REMOVE records carry the DynamoDB service identity.
# Every batch of every mapping runs on one thread, so a function never has more than one invocation
# in flight per mapping: ScalingConfig.MaximumConcurrency (minimum 2) and ReservedConcurrentExecutions
# >= 1 are always respected; ReservedConcurrentExecutions = 0 throttles: the mapping does not poll.
# ParallelizationFactor, tumbling windows, Kinesis sources and the 6 MB payload cap are not emulated.
#
# moto 5.2.5 instead invokes the function synchronously inside the write (Queue.add_message,
# StreamShard.add). While a poller of the same account and region runs, this module patches:
# - Queue.add_message: wrapped; while it runs, the queue's `lambda_event_source_mappings` reads as empty
#   (a data descriptor on Queue), so moto's inline receive + invoke loop has nothing to do. Afterwards
#   the poller is woken.
# - StreamShard.add: replaced; it appends the record under a lock (moto numbered records by list length
#   and cleared the list after each synchronous invoke: concurrent writers got duplicate sequence
#   numbers and unsent records were sent again), never clears the shard, stamps the record with
#   localcloud's clock and the table's region, adds the TTL service identity, and wakes the poller.
# - LambdaBackend.create_event_source_mapping / update_event_source_mapping: wrapped, so a new mapping
#   fixes its LATEST position at creation and an enabled or changed mapping is polled at once.
# The originals come back when the last poller stops.

from __future__ import annotations

import base64
import contextlib
import contextvars
import copy
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from localcloud import aws
from localcloud.core import Clock, Scheduler, Settings, Trace
from localcloud.eventbridge.patterns import matches

__all__ = ["EventSourcePoller", "Invoke", "InvokeOutcome"]

REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
# DynamoDB Streams keeps records 24 hours: with MaximumRecordAgeInSeconds -1, a failing record is
# retried until then.
STREAM_RETENTION_SECONDS = 86_400.0
# DynamoDB deletes expired items within days; localcloud sweeps every minute (compressed in fast mode).
TTL_SWEEP_SECONDS = 60.0
# DynamoDB does not delete items whose TTL lies more than five years in the past (documented by AWS:
# such a value is taken as not meant as an expiry time).
TTL_IGNORED_BEYOND_SECONDS = 5 * 365 * 86_400.0
# A TTL deletion's identity: in the Lambda event, and as the DynamoDB Streams API (GetRecords) spells it.
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
_TTL_IDENTITY_API = {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
# Recurring timers never fire more often than this: /_localcloud/settle looks 0.5 s ahead in fast mode,
# and a timer due sooner than that would keep the scheduler from ever settling.
MIN_RECURRING_SECONDS = 1.0
# Waits between retries of a failed stream batch: 1, 2, 4... seconds, at most a minute.
MAX_STREAM_BACKOFF_SECONDS = 60.0
# moto compares visibility times strictly in milliseconds: wake just after a message is visible again.
_VISIBILITY_SLACK_SECONDS = 0.005


class InvokeOutcome(Protocol):
    """What running the function returned."""

    payload: Any  # the handler's JSON-decoded return value (None if it returned nothing)
    error: dict[str, Any] | None  # AWS's error payload {"errorType", "errorMessage", ...} on failure


Invoke = Callable[[str, dict[str, Any]], InvokeOutcome]


# --- moto patches, shared by every poller -------------------------------------------------------------

_registry_lock = threading.RLock()
_pollers: dict[tuple[str, str], EventSourcePoller] = {}
_originals: dict[str, Any] = {}
# One lock for every stream append: sequence numbers are taken from the shard's length.
_stream_lock = threading.RLock()
# Set by the add_message wrapper: this thread is inside moto's add_message.
_adding_message: contextvars.ContextVar[bool] = contextvars.ContextVar("adding_message", default=False)
# Set by the TTL sweeper: deletions on this thread are DynamoDB's, not a user's.
_ttl_deleting: contextvars.ContextVar[bool] = contextvars.ContextVar("ttl_deleting", default=False)
_QUEUE_MAPPINGS = "lambda_event_source_mappings"
_fifo_sequence_numbers = itertools.count(18_000_000_000_000_000_000)
# Where a stream record keeps its creation time by localcloud's clock (moto's datetime drops the offset).
_CREATED = "_localcloud_created"


def _poller_for(account_id: str, region: str) -> EventSourcePoller | None:
    with _registry_lock:
        return _pollers.get((account_id, region))


class _QueueMappings:
    """Queue.lambda_event_source_mappings: empty inside add_message while a poller owns the queue's region."""

    def __get__(self, queue: Any, owner: type | None = None) -> Any:
        if queue is None:
            return self
        mappings = queue.__dict__.setdefault(_QUEUE_MAPPINGS, {})
        if _adding_message.get() and _poller_for(queue.account_id, queue.region) is not None:
            return {}
        return mappings

    def __set__(self, queue: Any, value: Any) -> None:
        queue.__dict__[_QUEUE_MAPPINGS] = value


def _add_message(queue: Any, message: Any) -> None:
    poller = _poller_for(queue.account_id, queue.region)
    if poller is not None and queue.fifo_queue and message.sequence_number is None:
        # SQS numbers every FIFO message (Lambda events show it); moto only when given a deduplication id.
        message.sequence_number = f"{next(_fifo_sequence_numbers):020d}"
    token = _adding_message.set(True)
    try:
        _originals["add_message"](queue, message)
    finally:
        _adding_message.reset(token)
    if poller is not None:
        poller._source_changed(queue.queue_arn)


def _stream_add(shard: Any, old: Any, new: Any) -> None:
    table = shard.table
    poller = _poller_for(shard.account_id, table.region_name)
    if poller is None:
        _originals["stream_add"](shard, old, new)
        return
    _append_stream_record(shard, old, new, now=poller._clock.now(), ttl=_ttl_deleting.get())
    poller._source_changed(f"{table.table_arn}/stream/{table.latest_stream_label}")


def _create_event_source_mapping(backend: Any, spec: dict[str, Any]) -> Any:
    mapping = _originals["create_esm"](backend, spec)
    poller = _poller_for(backend.account_id, backend.region_name)
    if poller is not None:
        poller._mapping_changed(mapping)
    return mapping


def _update_event_source_mapping(backend: Any, uuid_: str, spec: dict[str, Any]) -> Any:
    mapping = _originals["update_esm"](backend, uuid_, spec)
    poller = _poller_for(backend.account_id, backend.region_name)
    if poller is not None and mapping is not None:
        poller._mapping_changed(mapping)
    return mapping


def _install(poller: EventSourcePoller) -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.dynamodb.models.table import StreamShard
    from moto.sqs.models import Queue

    with _registry_lock:
        key = (poller.account_id, poller.region)
        if key in _pollers and _pollers[key] is not poller:
            raise RuntimeError(f"an event source poller already runs for {key[0]}/{key[1]}")
        _pollers[key] = poller
        if _originals:
            return
        if _QUEUE_MAPPINGS in vars(Queue):
            raise RuntimeError(
                "moto's Queue has a class-level lambda_event_source_mappings: re-check the patch"
            )
        _originals.update(
            add_message=Queue.add_message,
            stream_add=StreamShard.add,
            create_esm=LambdaBackend.create_event_source_mapping,
            update_esm=LambdaBackend.update_event_source_mapping,
        )
        Queue.add_message = _add_message  # type: ignore[method-assign,assignment]
        type.__setattr__(Queue, _QUEUE_MAPPINGS, _QueueMappings())
        StreamShard.add = _stream_add  # type: ignore[method-assign,assignment]
        LambdaBackend.create_event_source_mapping = _create_event_source_mapping  # type: ignore[method-assign,assignment]
        LambdaBackend.update_event_source_mapping = _update_event_source_mapping  # type: ignore[method-assign,assignment]


def _uninstall(poller: EventSourcePoller) -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.dynamodb.models.table import StreamShard
    from moto.sqs.models import Queue

    with _registry_lock:
        key = (poller.account_id, poller.region)
        if _pollers.get(key) is poller:
            del _pollers[key]
        if _pollers or not _originals:
            return
        Queue.add_message = _originals["add_message"]  # type: ignore[method-assign]
        # Queues keep their mappings in their own __dict__: without the descriptor moto reads them again.
        type.__delattr__(Queue, _QUEUE_MAPPINGS)
        StreamShard.add = _originals["stream_add"]  # type: ignore[method-assign]
        LambdaBackend.create_event_source_mapping = _originals["create_esm"]  # type: ignore[method-assign]
        LambdaBackend.update_event_source_mapping = _originals["update_esm"]  # type: ignore[method-assign]
        _originals.clear()


def _append_stream_record(shard: Any, old: Any, new: Any, *, now: float, ttl: bool) -> Any:
    """Appends one stream record as DynamoDB writes it; moto's StreamRecord builds keys and images."""
    from moto.dynamodb.models.table import StreamRecord

    table = shard.table
    view = (table.stream_specification or {}).get("StreamViewType", "KEYS_ONLY")
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    with _stream_lock:
        sequence_number = shard.starting_sequence_number + len(shard.items)
        record = StreamRecord(table, view, event_name, old, new, sequence_number)
        body = record.record
        body["awsRegion"] = table.region_name
        body["dynamodb"]["ApproximateCreationDateTime"] = datetime.fromtimestamp(now, UTC).replace(
            tzinfo=None
        )
        if ttl and event_name == "REMOVE":
            body["userIdentity"] = dict(_TTL_IDENTITY_API)
        setattr(record, _CREATED, now)
        shard.items.append(record)
    return record


# --- the poller -----------------------------------------------------------------------------------------


@dataclass
class _Entry:
    """One stream record of a batch, as the function receives it."""

    sequence_number: str
    record: dict[str, Any]
    created: float


@dataclass
class _StreamBatch:
    entries: list[_Entry]
    invokes: int = 0
    retries: int = 0
    function_error: bool = False
    request_id: str | None = None


@dataclass(eq=False)
class _State:
    """What the poller keeps per mapping: set up by whoever sees the mapping first, then used only on the
    scheduler thread (except `due`, under the poller's lock)."""

    uuid: str
    kind: str  # "sqs", "dynamodb", or the unsupported service
    source_arn: str
    due: float | None = None  # monotonic time of the earliest poll already scheduled
    window_started: float | None = None
    not_before: float = 0.0  # a stream batch's retry back-off
    shard: Any = None
    position: int = 0  # index of the next unread record in shard.items
    pending: deque[_StreamBatch] = field(default_factory=deque)
    notes: set[str] = field(default_factory=set)


@dataclass
class _Result:
    payload: Any
    error: dict[str, Any] | None
    request_id: str | None


class EventSourcePoller:
    """Runs moto's Lambda event source mappings (SQS, DynamoDB streams) and DynamoDB TTL as AWS does."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        scheduler: Scheduler,
        trace: Trace,
        invoke: Invoke,
        account_id: str,
        region: str,
        *,
        ttl_sweep_interval: float | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._scheduler = scheduler
        self._trace = trace
        self._invoke = invoke
        self.account_id = account_id
        self.region = region
        self._sweep_interval = (
            ttl_sweep_interval
            if ttl_sweep_interval is not None
            else max(settings.delay(TTL_SWEEP_SECONDS), MIN_RECURRING_SECONDS)
        )
        self._lock = threading.RLock()
        self._states: dict[str, _State] = {}
        self._running = False
        self._generation = 0
        self._listening = False

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Switches moto's synchronous invocations off and polls every mapping, present and future."""
        with self._lock:
            if self._running:
                return
            _install(self)
            self._running = True
            self._generation += 1
            generation = self._generation
        if not self._listening:
            self._clock.on_advance(self._on_clock_advance)
            self._listening = True
        self._trace.emit(
            "esm", f"event source mappings polled by localcloud ({self.account_id}/{self.region})"
        )
        for mapping in self._mappings():
            self._mapping_changed(mapping)
        self._scheduler.submit(
            lambda: self._sweep_tick(generation), delay=self._sweep_interval, name="ttl sweep"
        )

    def stop(self) -> None:
        """Stops polling and gives moto its synchronous behaviour back; scheduled polls become no-ops."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            for state in self._states.values():
                state.due = None
        _uninstall(self)

    @property
    def running(self) -> bool:
        return self._running

    def sweep_ttl(self) -> int:
        """Deletes the expired items of every table with TTL enabled; returns how many. Scheduler thread."""
        from moto.dynamodb.models import dynamodb_backends

        now = self._clock.now()
        deleted = 0
        for table in list(dynamodb_backends[self.account_id][self.region].tables.values()):
            ttl = table.ttl or {}
            attribute = ttl.get("AttributeName")
            if ttl.get("TimeToLiveStatus") != "ENABLED" or not attribute:
                continue
            try:
                expired = [item for item in table.all_items() if _expired(item, attribute, now)]
            except RuntimeError:  # a concurrent write resized the table mid-scan: next sweep
                continue
            removed = 0
            with _ttl_deletion():
                for item in expired:
                    # A writer may have replaced the item since the scan: delete only what is still expired.
                    current = table.get_item(item.hash_key, item.range_key)
                    if current is not None and _expired(current, attribute, now):
                        table.delete_item(item.hash_key, item.range_key)
                        removed += 1
            if removed:
                deleted += removed
                self._trace.emit(
                    "ttl",
                    f"{table.name}: {removed} expired item(s) deleted by TTL ({attribute} < now)",
                    table=table.name,
                    items=removed,
                )
        return deleted

    # -- notifications (any thread) -----------------------------------------------------------------------
    def _on_clock_advance(self, _now: float) -> None:
        if self._running:
            self._scheduler.submit(self._sweep_once, name="ttl sweep (clock advanced)")

    def _mapping_changed(self, mapping: Any) -> None:
        state = self._state_for(mapping)
        if state is not None:
            self._schedule(state)

    def _source_changed(self, source_arn: str) -> None:
        if not self._running:
            return
        for mapping in self._mappings():
            if mapping.event_source_arn == source_arn:
                self._mapping_changed(mapping)

    # -- scheduling ---------------------------------------------------------------------------------------
    def _schedule(self, state: _State, delay: float = 0.0) -> None:
        delay = max(delay, 0.0)
        due = time.monotonic() + delay
        with self._lock:
            if not self._running or (state.due is not None and state.due <= due):
                return  # a poll at least as early is already scheduled
            state.due = due
        self._scheduler.submit(lambda: self._run(state, due), delay=delay, name=f"esm {state.uuid}")

    def _run(self, state: _State, due: float) -> None:
        with self._lock:
            if state.due == due:
                state.due = None
            if not self._running:
                return
        mapping = self._lambda().get_event_source_mapping(state.uuid)
        if mapping is None:
            with self._lock:
                self._states.pop(state.uuid, None)
            return
        if not _flag(mapping.enabled):
            state.window_started = None
            return
        try:
            if state.kind == "sqs":
                self._poll_queue(state, mapping)
            elif state.kind == "dynamodb":
                self._poll_stream(state, mapping)
        except Exception as error:  # one mapping's failure must not stop the others
            message = f"event source mapping {state.uuid} ({_source_name(state.source_arn)}): {error!r}"
            if message not in state.notes:
                state.notes.add(message)
                self._trace.emit("error", message, mapping=state.uuid)
            # Nothing else may wake this mapping (e.g. messages left in flight): try again later.
            self._schedule(state, max(self._settings.delay(5.0), MIN_RECURRING_SECONDS))

    def _sweep_tick(self, generation: int) -> None:
        if not self._running or generation != self._generation:
            return
        try:
            self.sweep_ttl()
        finally:
            if self._running and generation == self._generation:
                self._scheduler.submit(
                    lambda: self._sweep_tick(generation), delay=self._sweep_interval, name="ttl sweep"
                )

    def _sweep_once(self) -> None:
        if self._running:
            self.sweep_ttl()

    # -- mappings -----------------------------------------------------------------------------------------
    def _lambda(self) -> Any:
        return aws.lambda_backend(self.account_id, self.region)

    def _mappings(self) -> list[Any]:
        return list(self._lambda().list_event_source_mappings("", ""))

    def _state_for(self, mapping: Any) -> _State | None:
        with self._lock:
            state = self._states.get(mapping.uuid)
            if state is None or state.source_arn != mapping.event_source_arn:
                service = mapping.event_source_arn.split(":")[2]
                state = _State(uuid=mapping.uuid, kind=service, source_arn=mapping.event_source_arn)
                self._states[mapping.uuid] = state
                if service == "dynamodb":
                    # LATEST means the records written from now on: fix the position at creation.
                    shard = _stream_shard(mapping.event_source_arn)
                    if shard is not None:
                        self._start_reading(state, mapping, shard)
                elif service != "sqs":
                    self._trace.emit(
                        "esm",
                        f"event source mapping {mapping.uuid}: {service} sources are not emulated",
                        mapping=mapping.uuid,
                    )
            return state if state.kind in ("sqs", "dynamodb") else None

    def _start_reading(self, state: _State, mapping: Any, shard: Any) -> None:
        with _stream_lock:
            state.shard = shard
            state.position = len(shard.items) if mapping.starting_position == "LATEST" else 0
        state.pending.clear()

    def _throttled(self, state: _State, mapping: Any) -> bool:
        try:
            function = self._lambda().get_function(mapping.function_arn)
        except Exception:
            return False  # a missing function fails at invoke time, as in AWS
        reserved = getattr(function, "reserved_concurrency", None)
        if reserved is None or int(reserved) != 0:
            state.notes.discard("throttled")
            return False
        if "throttled" not in state.notes:
            state.notes.add("throttled")
            self._trace.emit(
                "esm",
                f"{_source_name(state.source_arn)} -> {_function_name(mapping.function_arn)}: throttled "
                "(ReservedConcurrentExecutions = 0); not polling",
                mapping=state.uuid,
                outcome="throttled",
            )
        self._schedule(state, max(self._settings.delay(10.0), MIN_RECURRING_SECONDS))
        return True

    def _call(self, function_arn: str, event: dict[str, Any]) -> _Result:
        try:
            outcome = self._invoke(function_arn, event)
        except Exception as error:  # e.g. the function was deleted: AWS counts it as a failed invocation
            return _Result(None, {"errorType": type(error).__name__, "errorMessage": str(error)}, None)
        payload = outcome.payload
        if isinstance(payload, bytes | bytearray):
            try:
                payload = json.loads(payload) if payload else None
            except ValueError:
                payload = payload.decode("utf-8", "replace")
        return _Result(payload, outcome.error, getattr(outcome, "request_id", None))

    def _filters(self, state: _State, mapping: Any) -> list[dict[str, Any]] | None:
        """The mapping's filter patterns; None when it has none (every record passes)."""
        filters = ((mapping.filter_criteria or {}).get("Filters")) or []
        if not filters:
            return None
        patterns = []
        for entry in filters:
            try:
                pattern = json.loads(entry.get("Pattern", ""))
                if not isinstance(pattern, dict):
                    raise ValueError("a filter pattern must be a JSON object")
                patterns.append(pattern)
            except ValueError as error:
                self._note(
                    state, f"filter {entry.get('Pattern')!r} is not valid ({error}); it matches nothing"
                )
        return patterns

    def _passes(self, state: _State, patterns: list[dict[str, Any]] | None, record: dict[str, Any]) -> bool:
        if patterns is None:
            return True
        for pattern in patterns:
            try:
                if matches(pattern, record):
                    return True
            except ValueError as error:
                self._note(state, f"filter {json.dumps(pattern)} is not valid ({error}); it matches nothing")
        return False

    def _note(self, state: _State, message: str) -> None:
        """A configuration problem, traced once per mapping."""
        if message not in state.notes:
            state.notes.add(message)
            self._trace.emit("esm", f"event source mapping {state.uuid}: {message}", mapping=state.uuid)

    # -- SQS ----------------------------------------------------------------------------------------------
    def _poll_queue(self, state: _State, mapping: Any) -> None:
        arn = aws.Arn.parse(state.source_arn)
        backend = aws.sqs_backend(arn.account, arn.region)
        queue = backend.queues.get(arn.resource)
        if queue is None:
            self._note(state, f"queue {arn.resource} does not exist")
            return
        if self._throttled(state, mapping):
            return
        batch_size = int(mapping.batch_size)
        visible = len(queue.messages)
        if not visible:
            state.window_started = None
            self._schedule_next_visible(state, queue)
            return
        window = self._settings.delay(float(mapping.max_batch_window or 0))
        if visible < batch_size and window > 0:
            now = time.monotonic()
            if state.window_started is None:
                state.window_started = now
            remaining = state.window_started + window - now
            if remaining > 0:
                self._schedule(state, remaining)
                return
        state.window_started = None

        # Lock out concurrent sends while moto rebuilds the message list (its delete is not thread-safe).
        with queue._messages_lock:
            _release_expired_in_flight(queue)
            candidates = _redrive_candidates(queue)
            received_at = time.time()
            # Lambda receives every message attribute ("All"), as its event shows them.
            messages = backend.receive_message(
                queue.name, batch_size, 0, queue.visibility_timeout, message_attribute_names=["All"]
            )
            remaining_ids = {message.id for message in queue._messages}
        redriven = [message for message in candidates if message.id not in remaining_ids]
        if redriven:
            self._trace.emit(
                "esm",
                f"{queue.name}: {len(redriven)} message(s) redriven to DLQ {queue.dead_letter_queue.name} "
                f"after {queue.redrive_policy['maxReceiveCount']} receive(s)",
                mapping=state.uuid,
                source=state.source_arn,
                records=len(redriven),
                outcome="redriven to DLQ",
                message_ids=[message.id for message in redriven],
            )
        if not messages:
            self._schedule_next_visible(state, queue)
            return

        records = [_sqs_record(message, queue) for message in messages]
        patterns = self._filters(state, mapping)
        matching = [record for record in records if self._passes(state, patterns, _sqs_filter_view(record))]
        # Lambda deletes the messages no filter matches.
        unmatched = len(records) - len(matching)
        keep: set[str] = set()  # ids of the messages that stay in the queue
        if matching:
            keep = self._invoke_queue_batch(state, mapping, queue, matching)
        if unmatched:
            self._trace.emit(
                "esm",
                f"{queue.name}: {unmatched} message(s) matched no filter; deleted",
                mapping=state.uuid,
                source=state.source_arn,
                records=unmatched,
                outcome="filtered",
            )
        with queue._messages_lock:
            for record in records:
                if record["messageId"] not in keep:
                    _delete(backend, queue, record["receiptHandle"])
            if keep and self._settings.fast:
                # The failed messages come back after the queue's visibility timeout, compressed.
                back_at = (received_at + self._settings.delay(float(queue.visibility_timeout or 0))) * 1000
                for message in queue._messages:
                    if message.id in keep:
                        message.visible_at = max(back_at, time.time() * 1000)
        self._schedule(state)

    def _invoke_queue_batch(
        self, state: _State, mapping: Any, queue: Any, records: list[dict[str, Any]]
    ) -> set[str]:
        """Invokes the function with one batch; returns the ids of the messages that stay in the queue."""
        every = {record["messageId"] for record in records}
        function = _function_name(mapping.function_arn)
        started = time.monotonic()
        # A copy: what the handler does to its event must not change what is deleted.
        result = self._call(mapping.function_arn, {"Records": copy.deepcopy(records)})
        took = (time.monotonic() - started) * 1000
        label = f"{queue.name} -> {function}: {len(records)} message(s)"
        fields: dict[str, Any] = {
            "mapping": state.uuid,
            "source": state.source_arn,
            "function": function,
            "records": len(records),
        }
        if result.error is not None:
            self._trace.emit(
                "esm",
                f"{label} failed in {took:.0f} ms ({_error_text(result.error)}); "
                "batch back to the queue after its visibility timeout",
                **fields,
                outcome="error",
                error=result.error,
            )
            return every
        if REPORT_BATCH_ITEM_FAILURES not in (mapping.function_response_types or []):
            self._trace.emit("esm", f"{label} ok in {took:.0f} ms", **fields, outcome="ok")
            return set()
        failed = _item_failures(result.payload, [record["messageId"] for record in records])
        if failed is None:
            self._trace.emit(
                "esm",
                f"{label}: invalid partial batch response {_short(result.payload)}; "
                "whole batch back to the queue",
                **fields,
                outcome="error",
                response=result.payload,
            )
            return every
        if not failed:
            self._trace.emit("esm", f"{label} ok in {took:.0f} ms", **fields, outcome="ok")
            return set()
        self._trace.emit(
            "esm",
            f"{label} in {took:.0f} ms: {len(failed)} failed (batchItemFailures), "
            f"{len(records) - len(failed)} deleted",
            **fields,
            outcome="partial failures",
            failed=failed,
        )
        return set(failed)

    def _schedule_next_visible(self, state: _State, queue: Any) -> None:
        """Wakes when the next in-flight or delayed message becomes receivable (nothing else would tell)."""
        now_ms = time.time() * 1000
        upcoming = [
            moment
            for message in list(queue._messages)
            for moment in (message.visible_at, message.delayed_until)
            if moment > now_ms
        ]
        if upcoming:
            self._schedule(state, (min(upcoming) - now_ms) / 1000 + _VISIBILITY_SLACK_SECONDS)

    # -- DynamoDB streams ---------------------------------------------------------------------------------
    def _poll_stream(self, state: _State, mapping: Any) -> None:
        shard = _stream_shard(state.source_arn)
        if shard is None:
            self._note(state, f"stream {state.source_arn} is not enabled")
            return
        if state.shard is not shard:
            self._start_reading(state, mapping, shard)
        wait = state.not_before - time.monotonic()
        if wait > 0:
            self._schedule(state, wait)  # a retry back-off: a new record does not cut it short
            return
        if self._throttled(state, mapping):
            return
        if not state.pending and not self._read_batch(state, mapping, shard):
            return
        self._attempt(state, mapping, shard)

    def _read_batch(self, state: _State, mapping: Any, shard: Any) -> bool:
        """Takes the next batch off the shard into state.pending; False when there is none yet."""
        with _stream_lock:
            unread = shard.items[state.position :]
        if not unread:
            state.window_started = None
            return False
        batch_size = int(mapping.batch_size)
        patterns = self._filters(state, mapping)
        now = self._clock.now()
        chosen: list[_Entry] = []
        consumed = dropped = 0
        for stream_record in unread:
            consumed += 1
            created = _created(stream_record)
            if created < now - STREAM_RETENTION_SECONDS:
                continue  # trimmed from the stream before anyone read it
            record = _stream_event_record(stream_record.record, state.source_arn)
            if not self._passes(state, patterns, record):
                dropped += 1
                continue
            chosen.append(_Entry(record["dynamodb"]["SequenceNumber"], record, created))
            if len(chosen) >= batch_size:
                break
        window = self._settings.delay(float(mapping.max_batch_window or 0))
        if chosen and len(chosen) < batch_size and window > 0:
            started = time.monotonic()
            if state.window_started is None:
                state.window_started = started
            remaining = state.window_started + window - started
            if remaining > 0:
                self._schedule(state, remaining)
                return False
        state.window_started = None
        state.position += consumed
        if dropped:
            self._trace.emit(
                "esm",
                f"{_source_name(state.source_arn)} stream: {dropped} record(s) matched no filter; skipped",
                mapping=state.uuid,
                source=state.source_arn,
                records=dropped,
                outcome="filtered",
            )
        if not chosen:
            self._schedule(state)  # more records may follow the filtered ones
            return False
        state.pending.append(_StreamBatch(chosen))
        return True

    def _attempt(self, state: _State, mapping: Any, shard: Any) -> None:
        batch = state.pending[0]
        max_age = _setting(mapping.max_record_age, default=STREAM_RETENTION_SECONDS)
        now = self._clock.now()
        expired = 0
        while expired < len(batch.entries) and now - batch.entries[expired].created > max_age:
            expired += 1
        if expired:
            self._discard(state, mapping, shard, batch, batch.entries[:expired], "RecordAgeExceeded")
            batch.entries = batch.entries[expired:]
            if not batch.entries:
                state.pending.popleft()
                self._schedule(state)
                return

        function = _function_name(mapping.function_arn)
        label = f"{_source_name(state.source_arn)} stream -> {function}: {len(batch.entries)} record(s)"
        fields: dict[str, Any] = {
            "mapping": state.uuid,
            "source": state.source_arn,
            "function": function,
            "records": len(batch.entries),
        }
        started = time.monotonic()
        result = self._call(
            mapping.function_arn, {"Records": copy.deepcopy([e.record for e in batch.entries])}
        )
        took = (time.monotonic() - started) * 1000
        batch.invokes += 1
        batch.request_id = result.request_id
        batch.function_error = result.error is not None

        failed_from: int | None = None  # index of the first record to retry; None: the batch succeeded
        partial = False  # a valid partial batch response, as opposed to a failed invocation
        reason = ""
        if result.error is not None:
            failed_from, reason = 0, _error_text(result.error)
        elif REPORT_BATCH_ITEM_FAILURES in (mapping.function_response_types or []):
            sequence_numbers = [entry.sequence_number for entry in batch.entries]
            failed = _item_failures(result.payload, sequence_numbers)
            if failed is None:
                failed_from, reason = 0, f"invalid partial batch response {_short(result.payload)}"
            elif failed:
                # Lambda checkpoints before the lowest reported sequence number and retries from there.
                failed_from = min(sequence_numbers.index(identifier) for identifier in failed)
                partial = True
                reason = f"batchItemFailures from {sequence_numbers[failed_from]}"
        if failed_from is None:
            state.pending.popleft()
            self._trace.emit("esm", f"{label} ok in {took:.0f} ms", **fields, outcome="ok")
            self._schedule(state)
            return

        if not partial and _flag(mapping.bisect_on_error) and len(batch.entries) > 1:
            # Splitting does not count as a retry.
            half = len(batch.entries) // 2
            first, second = (
                _StreamBatch(
                    part,
                    invokes=batch.invokes,
                    retries=batch.retries,
                    function_error=batch.function_error,
                    request_id=batch.request_id,
                )
                for part in (batch.entries[:half], batch.entries[half:])
            )
            state.pending.popleft()
            state.pending.extendleft([second, first])
            self._trace.emit(
                "esm",
                f"{label} failed ({reason}); bisected into {half} + {len(second.entries)}",
                **fields,
                outcome="bisected",
            )
            self._schedule(state)
            return

        if failed_from:
            batch.entries = batch.entries[failed_from:]
        batch.retries += 1
        max_retries = _setting(mapping.max_retry_attempts, default=None)
        if max_retries is not None and batch.retries > max_retries:
            self._trace.emit(
                "esm",
                f"{label} failed ({reason}); retries exhausted",
                **fields,
                outcome="error",
                reason=reason,
            )
            self._discard(state, mapping, shard, batch, batch.entries, "RetryAttemptsExhausted")
            state.pending.popleft()
            self._schedule(state)
            return
        backoff = self._settings.delay(min(2.0 ** (batch.retries - 1), MAX_STREAM_BACKOFF_SECONDS))
        state.not_before = time.monotonic() + backoff
        self._trace.emit(
            "esm",
            f"{label} failed ({reason}); retry {batch.retries} of {len(batch.entries)} record(s) "
            f"in {backoff:.3f} s",
            **fields,
            outcome="partial failures" if partial else "error",
            reason=reason,
        )
        self._schedule(state, backoff)

    def _discard(
        self,
        state: _State,
        mapping: Any,
        shard: Any,
        batch: _StreamBatch,
        entries: list[_Entry],
        condition: str,
    ) -> None:
        """Records Lambda gives up on: their description goes to the OnFailure destination, if any."""
        name = _source_name(state.source_arn)
        function = _function_name(mapping.function_arn)
        fields = {
            "mapping": state.uuid,
            "source": state.source_arn,
            "function": function,
            "records": len(entries),
            "condition": condition,
        }
        destination = (((mapping.destination_config or {}).get("OnFailure")) or {}).get("Destination")
        if not destination:
            self._trace.emit(
                "esm",
                f"{name} stream -> {function}: {len(entries)} record(s) {condition}; "
                "discarded (no OnFailure destination)",
                **fields,
                outcome="discarded",
            )
            return
        record = self._failure_record(mapping, shard, batch, entries, condition)
        body = json.dumps(record)
        try:
            service = aws.Arn.parse(destination).service
            if service == "sqs":
                aws.send_to_queue(destination, body)
            elif service == "sns":
                aws.publish_to_topic(destination, body)
            else:
                raise ValueError(f"{service} is not an OnFailure destination for stream sources")
        except Exception as error:
            self._trace.emit(
                "error",
                f"{name} stream -> {function}: OnFailure to {destination} failed: {error!r}; records dropped",
                **fields,
            )
            return
        self._trace.emit(
            "esm",
            f"{name} stream -> {function}: {len(entries)} record(s) {condition}; sent to OnFailure "
            f"{aws.Arn.parse(destination).name}",
            **fields,
            outcome="sent to OnFailure",
            destination=destination,
        )

    def _failure_record(
        self, mapping: Any, shard: Any, batch: _StreamBatch, entries: list[_Entry], condition: str
    ) -> dict[str, Any]:
        """AWS's invocation record for discarded stream records: where they are, not what they hold."""
        record: dict[str, Any] = {
            "requestContext": {
                "requestId": batch.request_id or str(uuid.uuid4()),
                "functionArn": mapping.function_arn,
                "condition": condition,
                "approximateInvokeCount": batch.invokes,
            },
        }
        if batch.invokes:
            response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
            if batch.function_error:
                response["functionError"] = "Unhandled"
            record["responseContext"] = response
        record["version"] = "1.0"
        record["timestamp"] = _iso(self._clock.now(), milliseconds=True)
        record["DDBStreamBatchInfo"] = {
            "shardId": shard.id,
            "startSequenceNumber": entries[0].sequence_number,
            "endSequenceNumber": entries[-1].sequence_number,
            "approximateArrivalOfFirstRecord": _iso(entries[0].created),
            "approximateArrivalOfLastRecord": _iso(entries[-1].created),
            "batchSize": len(entries),
            "streamArn": mapping.event_source_arn,
        }
        return record


# --- helpers ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _ttl_deletion() -> Iterator[None]:
    token = _ttl_deleting.set(True)
    try:
        yield
    finally:
        _ttl_deleting.reset(token)


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


def _stream_shard(stream_arn: str) -> Any:
    """The shard behind a stream ARN, or None when the table is gone or its stream changed."""
    from moto.dynamodb.models import dynamodb_backends

    parts = stream_arn.split(":", 5)
    if len(parts) < 6 or "/stream/" not in parts[5]:
        return None
    _, table_name, _, label = parts[5].split("/", 3)
    table = dynamodb_backends[parts[4]][parts[3]].tables.get(table_name)
    if table is None or table.latest_stream_label != label:
        return None
    return table.stream_shard


def _created(stream_record: Any) -> float:
    created = getattr(stream_record, _CREATED, None)
    if created is not None:
        return float(created)
    # A record moto wrote before localcloud took over: a naive UTC datetime.
    moment = stream_record.record["dynamodb"]["ApproximateCreationDateTime"]
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return float(moment)


def _stream_event_record(stored: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A DynamoDB stream record as Lambda delivers it."""
    source = stored["dynamodb"]
    moment = source["ApproximateCreationDateTime"]
    if isinstance(moment, datetime):
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": int(moment),
        "Keys": copy.deepcopy(source["Keys"]),
    }
    for image in ("NewImage", "OldImage"):
        if image in source:
            dynamodb[image] = copy.deepcopy(source[image])
    dynamodb["SequenceNumber"] = source["SequenceNumber"]
    dynamodb["SizeBytes"] = source["SizeBytes"]
    dynamodb["StreamViewType"] = source["StreamViewType"]
    record: dict[str, Any] = {
        "eventID": stored["eventID"],
        "eventName": stored["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": stream_arn.split(":")[3],
        "dynamodb": dynamodb,
    }
    identity = stored.get("userIdentity")
    if identity:
        record["userIdentity"] = {"type": identity.get("Type"), "principalId": identity.get("PrincipalId")}
    record["eventSourceARN"] = stream_arn
    return record


def _sqs_record(message: Any, queue: Any) -> dict[str, Any]:
    """An SQS message as Lambda delivers it."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": message.sender_id,
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    trace_header = (message.system_attributes or {}).get("AWSTraceHeader")
    if isinstance(trace_header, dict) and trace_header.get("StringValue"):
        attributes["AWSTraceHeader"] = trace_header["StringValue"]
    if queue.fifo_queue:
        if message.sequence_number is not None:
            attributes["SequenceNumber"] = message.sequence_number
        if message.group_id is not None:
            attributes["MessageGroupId"] = message.group_id
        if message.deduplication_id is not None:
            attributes["MessageDeduplicationId"] = message.deduplication_id
    record: dict[str, Any] = {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {
            name: _message_attribute(value) for name, value in (message.message_attributes or {}).items()
        },
        "md5OfBody": message.body_md5,
    }
    if message.message_attributes:
        # moto cannot hash every binary form; the digest is informational.
        with contextlib.suppress(Exception):
            record["md5OfMessageAttributes"] = message.attribute_md5
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue.queue_arn
    record["awsRegion"] = queue.region
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if value.get("StringValue") is not None:
        attribute["stringValue"] = value["StringValue"]
    if value.get("BinaryValue") is not None:
        attribute["binaryValue"] = _base64(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = [_base64(item) for item in value.get("BinaryListValues") or []]
    attribute["dataType"] = value.get("DataType")
    return attribute


def _base64(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    return str(value)  # the JSON and query protocols already carry base64 text


def _sqs_filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """What an SQS filter pattern sees: a JSON object body is matched as JSON, anything else as text."""
    try:
        body = json.loads(record["body"])
    except ValueError:
        return record
    return {**record, "body": body} if isinstance(body, dict) else record


def _delete(backend: Any, queue: Any, receipt_handle: str) -> None:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    # Already gone: purged, or deleted by the handler itself.
    with contextlib.suppress(ReceiptHandleIsInvalid):
        backend.delete_message(queue.name, receipt_handle)


def _release_expired_in_flight(queue: Any) -> None:
    """Forgets in-flight messages whose visibility timeout has passed, before a receive.

    moto 5.2.5 does this one message at a time during the receive scan, and decides whether a FIFO group
    is busy from what is still marked in flight: after a failed batch it skips the group's first messages
    and delivers a later one first. Clearing them up front keeps the group's order.
    """
    for message in list(queue.pending_messages):
        if message.visible:
            queue.pending_messages.discard(message)


def _redrive_candidates(queue: Any) -> list[Any]:
    policy = queue.redrive_policy
    if not policy or queue.dead_letter_queue is None:
        return []
    limit = int(policy["maxReceiveCount"])
    return [message for message in queue.messages if message.approximate_receive_count >= limit]


def _item_failures(payload: Any, identifiers: list[str]) -> list[str] | None:
    """The reported `batchItemFailures` identifiers; None when the response is invalid (whole batch failed).

    AWS: no response, an empty one or a null/empty list is success; a response that is not an object,
    or an itemIdentifier that is missing, empty, null or not in the batch, fails the whole batch.
    """
    if payload is None or payload == "":
        return []
    if not isinstance(payload, dict):
        return None
    failures = payload.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return None
    known = set(identifiers)
    reported: list[str] = []
    for failure in failures:
        if not isinstance(failure, dict):
            return None
        identifier = failure.get("itemIdentifier")
        if not isinstance(identifier, str) or identifier not in known:
            return None
        if identifier not in reported:
            reported.append(identifier)
    return reported


def _flag(value: Any) -> bool:
    """A boolean mapping setting, whether the API (a bool) or a template (maybe a string) gave it."""
    return value is True or str(value).lower() == "true"


def _setting(value: Any, *, default: float | None) -> Any:
    """A MaximumRetryAttempts / MaximumRecordAgeInSeconds value; -1 or unset means the default."""
    if value is None or int(value) < 0:
        return default
    return int(value)


def _iso(seconds: float, *, milliseconds: bool = False) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    text = moment.isoformat(timespec="milliseconds" if milliseconds else "seconds")
    return text.replace("+00:00", "Z")


def _function_name(function_arn: str) -> str:
    parts = function_arn.split(":")
    return parts[6] if len(parts) > 6 else function_arn


def _source_name(source_arn: str) -> str:
    resource = source_arn.split(":", 5)[-1]
    return resource.split("/")[1] if resource.startswith("table/") else resource


def _error_text(error: dict[str, Any]) -> str:
    return f"{error.get('errorType', 'Error')}: {_short(error.get('errorMessage'))}"


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
