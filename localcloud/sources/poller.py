"""Lambda event source mappings as AWS runs them: SQS and DynamoDB streams in batches, and TTL expiry.

What AWS does and this package reproduces, per mapping:
- SQS (`sqs.py`): up to MaximumConcurrency batches at once (5 without it: the pollers Lambda
  starts with), each received with the queue's visibility timeout; a batching window; delete on
  success, delete all but the reported `batchItemFailures`, leave the batch on error or throttle
  (it comes back after the visibility timeout, its receive counted). moto's SQS moves a message to
  the queue's DLQ on the receive after maxReceiveCount, so redrive is moto's; this only reports it.
- DynamoDB streams (`streams.py`): one batch at a time per shard, from StartingPosition, with
  FilterCriteria, BatchSize, the batching window, retries with checkpointing, bisection,
  MaximumRetryAttempts, MaximumRecordAgeInSeconds, then the OnFailure destination.
- TTL (`ttl.py`): a sweeper deletes expired items; their REMOVE records carry the service identity.
A throttled invocation (the function at its concurrency) backs the mapping off; nothing is lost.
ParallelizationFactor, tumbling windows, Kinesis sources and the 6 MB payload cap are not emulated.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from localcloud.core import backends as aws
from localcloud.core.backends import BACKENDS
from localcloud.core.clock import Clock
from localcloud.core.faults import Faults
from localcloud.core.patches import REGISTRY
from localcloud.core.scheduler import Scheduler
from localcloud.core.settings import Settings
from localcloud.core.trace import Trace
from localcloud.eventbridge.pattern_matching import CompiledPattern
from localcloud.eventbridge.patterns import InvalidEventPattern, compile_pattern
from localcloud.lambda_.runtime import Throttled
from localcloud.sources.hooks import source_patches
from localcloud.sources.records import flag, function_name, source_name

__all__ = ["EventSourcePoller", "Invoke", "InvokeOutcome"]

# Recurring timers never fire more often than this: /_localcloud/settle looks 0.5 s ahead in fast mode,
# and a timer due sooner than that would keep the scheduler from ever settling.
MIN_RECURRING_SECONDS = 1.0
# Back-off of a throttled mapping: 1, 2, 4... seconds, at most a minute.
MAX_THROTTLE_BACKOFF_SECONDS = 60.0


class InvokeOutcome(Protocol):
    """What running the function returned."""

    payload: Any  # the handler's JSON-decoded return value (None if it returned nothing)
    error: dict[str, Any] | None  # AWS's error payload {"errorType", "errorMessage", ...} on failure


# Runs the function synchronously; raises Throttled when it is at its concurrency limit.
Invoke = Callable[[str, dict[str, Any]], InvokeOutcome]


@dataclass
class StreamBatch:
    entries: list[Any]
    invokes: int = 0
    retries: int = 0
    function_error: bool = False
    request_id: str | None = None


@dataclass(eq=False)
class MappingState:
    """What the poller keeps per mapping. A stream mapping is polled by one job at a time (the
    scheduler serializes its key); an SQS mapping by up to its concurrency, counted in `active`."""

    uuid: str
    kind: str  # "sqs", "dynamodb", or the unsupported service
    source_arn: str
    due: float | None = None  # monotonic time of the earliest poll already scheduled
    window_started: float | None = None
    not_before: float = 0.0  # a stream batch's retry back-off
    shard: Any = None
    position: int = 0  # index of the next unread record in shard.items
    pending: deque[StreamBatch] = field(default_factory=deque)
    notes: set[str] = field(default_factory=set)
    active: int = 0  # SQS batches being processed
    throttles: int = 0  # throttled invocations in a row


@dataclass
class CallResult:
    payload: Any
    error: dict[str, Any] | None
    request_id: str | None
    throttled: str | None = None  # the throttling reason, when the function was at its limit


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
        faults: Faults | None = None,
    ) -> None:
        from localcloud.sources.sqs import QueuePolling
        from localcloud.sources.streams import StreamPolling
        from localcloud.sources.ttl import TtlSweeper

        self.settings = settings
        self.clock = clock
        self.trace = trace
        self._scheduler = scheduler
        self._invoke = invoke
        self.faults = faults
        self.account_id = account_id
        self.region = region
        self._lock = threading.RLock()
        self._states: dict[str, MappingState] = {}
        self._running = False
        self.patches = source_patches(self)
        self._queues = QueuePolling(self)
        self._streams = StreamPolling(self)
        self.ttl = TtlSweeper(self, scheduler, ttl_sweep_interval)

    # -- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Switches moto's synchronous invocations off and polls every mapping, present and future."""
        with self._lock:
            if self._running:
                return
            REGISTRY.install(self.patches)
            self._running = True
        self.trace.emit(
            "esm", f"event source mappings polled by localcloud ({self.account_id}/{self.region})"
        )
        with BACKENDS:
            mappings = self._mappings()
        for mapping in mappings:
            self.mapping_changed(mapping)
        self.ttl.start()

    def stop(self) -> None:
        """Stops polling and gives moto its synchronous behaviour back; scheduled polls become no-ops."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            for state in self._states.values():
                state.due = None
        self.ttl.stop()
        REGISTRY.restore(self.patches)

    @property
    def running(self) -> bool:
        return self._running

    # -- notifications (any thread) -----------------------------------------------------------------------
    def mapping_changed(self, mapping: Any) -> None:
        state = self._state_for(mapping)
        if state is not None:
            self.schedule(state)

    def source_changed(self, source_arn: str) -> None:
        if not self._running:
            return
        for mapping in self._mappings():
            if mapping.event_source_arn == source_arn:
                self.mapping_changed(mapping)

    # -- scheduling ---------------------------------------------------------------------------------------
    def schedule(self, state: MappingState, delay: float = 0.0, *, background: bool = False) -> None:
        delay = max(delay, 0.0)
        due = time.monotonic() + delay
        with self._lock:
            if not self._running or (state.due is not None and state.due <= due):
                return  # a poll at least as early is already scheduled
            state.due = due
        # A stream's batches go one at a time, in order; an SQS mapping's polls may overlap.
        key = f"esm {state.uuid}" if state.kind == "dynamodb" else None
        self._scheduler.submit(
            lambda: self._run(state, due),
            delay=delay,
            name=f"esm {state.uuid}",
            key=key,
            background=background,
        )

    def recurring(self, seconds: float) -> float:
        """A wait AWS would do between polls, as this localcloud does it (never too often to settle)."""
        return max(self.settings.delay(seconds), MIN_RECURRING_SECONDS)

    def _run(self, state: MappingState, due: float) -> None:
        with self._lock:
            if state.due == due:
                state.due = None
            if not self._running:
                return
        with BACKENDS:
            mapping = self.lambda_backend().get_event_source_mapping(state.uuid)
        if mapping is None:
            with self._lock:
                self._states.pop(state.uuid, None)
            return
        if not flag(mapping.enabled):
            state.window_started = None
            return
        try:
            if state.kind == "sqs":
                self._queues.poll(state, mapping)
            elif state.kind == "dynamodb":
                self._streams.poll(state, mapping)
        except Exception as error:  # one mapping's failure must not stop the others
            message = f"event source mapping {state.uuid} ({source_name(state.source_arn)}): {error!r}"
            if message not in state.notes:
                state.notes.add(message)
                self.trace.emit("error", message, mapping=state.uuid)
            # Nothing else may wake this mapping (e.g. messages left in flight): try again later.
            self.schedule(state, self.recurring(5.0))

    # -- mappings -----------------------------------------------------------------------------------------
    def lambda_backend(self) -> Any:
        return aws.lambda_backend(self.account_id, self.region)

    def _mappings(self) -> list[Any]:
        return list(self.lambda_backend().list_event_source_mappings("", ""))

    def _state_for(self, mapping: Any) -> MappingState | None:
        # The backend lock first, always: moto's writes hold it when they wake the poller.
        with BACKENDS, self._lock:
            state = self._states.get(mapping.uuid)
            if state is None or state.source_arn != mapping.event_source_arn:
                service = mapping.event_source_arn.split(":")[2]
                state = MappingState(uuid=mapping.uuid, kind=service, source_arn=mapping.event_source_arn)
                self._states[mapping.uuid] = state
                if service == "dynamodb":
                    # LATEST means the records written from now on: fix the position at creation.
                    self._streams.start_reading(state, mapping)
                elif service != "sqs":
                    self.trace.emit(
                        "esm",
                        f"event source mapping {mapping.uuid}: {service} sources are not emulated",
                        mapping=mapping.uuid,
                    )
            return state if state.kind in ("sqs", "dynamodb") else None

    def reserved_zero(self, state: MappingState, mapping: Any) -> bool:
        """A function with ReservedConcurrentExecutions = 0 is throttled: its mapping does not poll."""
        with BACKENDS:
            try:
                function = self.lambda_backend().get_function(mapping.function_arn)
            except Exception:
                return False  # a missing function fails at invoke time, as in AWS
            reserved = getattr(function, "reserved_concurrency", None)
        if reserved is None or int(reserved) != 0:
            state.notes.discard("throttled")
            return False
        if "throttled" not in state.notes:
            state.notes.add("throttled")
            self.trace.emit(
                "esm",
                f"{source_name(state.source_arn)} -> {function_name(mapping.function_arn)}: throttled "
                "(ReservedConcurrentExecutions = 0); not polling",
                mapping=state.uuid,
                outcome="throttled",
            )
        # Nothing to do until its concurrency changes: a look now and then is nobody's pending work.
        self.schedule(state, self.recurring(10.0), background=True)
        return True

    def call(self, state: MappingState, function_arn: str, event: dict[str, Any]) -> CallResult:
        """Invokes the function synchronously (without the backend lock: the handler calls back)."""
        try:
            outcome = self._invoke(function_arn, event)
        except Throttled as throttled:
            state.throttles += 1
            return CallResult(None, None, None, throttled=throttled.reason)
        except Exception as error:  # e.g. the function was deleted: AWS counts it as a failed invocation
            return CallResult(None, {"errorType": type(error).__name__, "errorMessage": str(error)}, None)
        state.throttles = 0
        payload = outcome.payload
        if isinstance(payload, bytes | bytearray):
            try:
                payload = json.loads(payload) if payload else None
            except ValueError:
                payload = payload.decode("utf-8", "replace")
        return CallResult(payload, outcome.error, getattr(outcome, "request_id", None))

    def call_again_if_duplicated(
        self, state: MappingState, function_arn: str, event: dict[str, Any], kind: str, *names: str
    ) -> None:
        """The fault switch's at-least-once: the function gets the same batch a second time."""
        if self.faults is not None and self.faults.duplicates(kind, *names):
            result = self.call(state, function_arn, event)
            outcome = "throttled" if result.throttled else "error" if result.error else "ok"
            self.trace.emit(
                "esm",
                f"{source_name(state.source_arn)} -> {function_name(function_arn)}: batch delivered again "
                f"({outcome})",
                mapping=state.uuid,
                outcome=f"duplicate {outcome}",
            )

    def trace_filtered(self, state: MappingState, records: str, count: int, fate: str) -> None:
        """`count` records (described by `records`) matched none of the mapping's filters."""
        self.trace.emit(
            "esm",
            f"{records} matched no filter; {fate}",
            mapping=state.uuid,
            source=state.source_arn,
            records=count,
            outcome="filtered",
        )

    def take_slot(self, state: MappingState, concurrency: int) -> bool:
        """One of the mapping's `concurrency` batches in flight, if one is free."""
        with self._lock:
            if state.active >= concurrency:
                return False
            state.active += 1
            return True

    def free_slot(self, state: MappingState) -> None:
        with self._lock:
            state.active -= 1

    def throttle_backoff(self, state: MappingState) -> float:
        """How long a throttled mapping waits before it polls again: doubling, at most a minute."""
        return self.settings.delay(min(2.0 ** max(state.throttles - 1, 0), MAX_THROTTLE_BACKOFF_SECONDS))

    def filters(self, state: MappingState, mapping: Any) -> list[CompiledPattern] | None:
        """The mapping's filter patterns, compiled (once per text); None when it has none (all pass)."""
        filters = ((mapping.filter_criteria or {}).get("Filters")) or []
        if not filters:
            return None
        patterns = []
        for entry in filters:
            try:
                patterns.append(compile_pattern(str(entry.get("Pattern", ""))))
            except InvalidEventPattern as error:
                self.note(
                    state, f"filter {entry.get('Pattern')!r} is not valid ({error}); it matches nothing"
                )
        return patterns

    @staticmethod
    def passes(patterns: list[CompiledPattern] | None, record: dict[str, Any]) -> bool:
        return patterns is None or any(pattern.matches(record) for pattern in patterns)

    def note(self, state: MappingState, message: str) -> None:
        """A configuration problem, traced once per mapping."""
        if message not in state.notes:
            state.notes.add(message)
            self.trace.emit("esm", f"event source mapping {state.uuid}: {message}", mapping=state.uuid)
