"""DynamoDB stream event source mappings: batches in shard order, retried, bisected, then given up on."""

from __future__ import annotations

import copy
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localcloud.core import backends as aws
from localcloud.core.backends import BACKENDS
from localcloud.sources.hooks import CREATED, STREAM_LOCK
from localcloud.sources.poller import StreamBatch
from localcloud.sources.records import (
    REPORT_BATCH_ITEM_FAILURES,
    error_text,
    flag,
    function_name,
    iso,
    item_failures,
    setting,
    short,
    source_name,
    stream_event_record,
)

if TYPE_CHECKING:
    from localcloud.sources.poller import EventSourcePoller, MappingState

# DynamoDB Streams keeps records 24 hours: with MaximumRecordAgeInSeconds -1, a failing record is
# retried until then.
STREAM_RETENTION_SECONDS = 86_400.0
# Waits between retries of a failed stream batch: 1, 2, 4... seconds, at most a minute.
MAX_STREAM_BACKOFF_SECONDS = 60.0


@dataclass
class Entry:
    """One stream record of a batch, as the function receives it."""

    sequence_number: str
    record: dict[str, Any]
    created: float


class StreamPolling:
    """Reads the stream shards of a poller's mappings and hands their batches to the functions."""

    def __init__(self, poller: EventSourcePoller) -> None:
        self._poller = poller

    def start_reading(self, state: MappingState, mapping: Any, shard: Any = None) -> None:
        """Reads the shard from the mapping's starting position (LATEST: what is written from now on)."""
        if shard is None:
            with BACKENDS:
                shard = _stream_shard(state.source_arn)
            if shard is None:
                return
        with STREAM_LOCK:
            state.shard = shard
            state.position = len(shard.items) if mapping.starting_position == "LATEST" else 0
        state.pending.clear()

    def poll(self, state: MappingState, mapping: Any) -> None:
        with BACKENDS:
            shard = _stream_shard(state.source_arn)
        if shard is None:
            self._poller.note(state, f"stream {state.source_arn} is not enabled")
            return
        if state.shard is not shard:
            self.start_reading(state, mapping, shard)
        wait = state.not_before - time.monotonic()
        if wait > 0:
            self._poller.schedule(state, wait)  # a retry back-off: a new record does not cut it short
            return
        if self._poller.reserved_zero(state, mapping):
            return
        if not state.pending and not self._read_batch(state, mapping, shard):
            return
        self._attempt(state, mapping, shard)

    def _read_batch(self, state: MappingState, mapping: Any, shard: Any) -> bool:
        """Takes the next batch off the shard into state.pending; False when there is none yet."""
        with STREAM_LOCK:
            unread = shard.items[state.position :]
        if not unread:
            state.window_started = None
            return False
        batch_size = int(mapping.batch_size)
        patterns = self._poller.filters(state, mapping)
        now = self._poller.clock.now()
        chosen: list[Entry] = []
        consumed = dropped = 0
        for stream_record in unread:
            consumed += 1
            created = _created(stream_record)
            if created < now - STREAM_RETENTION_SECONDS:
                continue  # trimmed from the stream before anyone read it
            record = stream_event_record(stream_record.record, state.source_arn)
            if not self._poller.passes(patterns, record):
                dropped += 1
                continue
            chosen.append(Entry(record["dynamodb"]["SequenceNumber"], record, created))
            if len(chosen) >= batch_size:
                break
        window = self._poller.settings.delay(float(mapping.max_batch_window or 0))
        if chosen and len(chosen) < batch_size and window > 0:
            started = time.monotonic()
            if state.window_started is None:
                state.window_started = started
            remaining = state.window_started + window - started
            if remaining > 0:
                self._poller.schedule(state, remaining)
                return False
        state.window_started = None
        state.position += consumed
        if dropped:
            name = source_name(state.source_arn)
            self._poller.trace_filtered(state, f"{name} stream: {dropped} record(s)", dropped, "skipped")
        if not chosen:
            self._poller.schedule(state)  # more records may follow the filtered ones
            return False
        state.pending.append(StreamBatch(chosen))
        return True

    def _attempt(self, state: MappingState, mapping: Any, shard: Any) -> None:
        batch = state.pending[0]
        max_age = setting(mapping.max_record_age, default=STREAM_RETENTION_SECONDS)
        now = self._poller.clock.now()
        expired = 0
        while expired < len(batch.entries) and now - batch.entries[expired].created > max_age:
            expired += 1
        if expired:
            self._discard(state, mapping, shard, batch, batch.entries[:expired], "RecordAgeExceeded")
            batch.entries = batch.entries[expired:]
            if not batch.entries:
                state.pending.popleft()
                self._poller.schedule(state)
                return

        function = function_name(mapping.function_arn)
        label = f"{source_name(state.source_arn)} stream -> {function}: {len(batch.entries)} record(s)"
        fields: dict[str, Any] = {
            "mapping": state.uuid,
            "source": state.source_arn,
            "function": function,
            "records": len(batch.entries),
            # What a flow's trace finds the batch by: the keys of the rows it carried.
            "keys": [entry.record.get("dynamodb", {}).get("Keys") for entry in batch.entries],
        }
        started = time.monotonic()
        result = self._poller.call(
            state, mapping.function_arn, {"Records": copy.deepcopy([e.record for e in batch.entries])}
        )
        took = (time.monotonic() - started) * 1000
        fields["duration_ms"] = round(took, 1)
        if result.throttled is None and result.error is None:
            table = state.source_arn.split(":table/", 1)[-1].split("/", 1)[0]
            self._poller.call_again_if_duplicated(
                state,
                mapping.function_arn,
                {"Records": copy.deepcopy([e.record for e in batch.entries])},
                "stream",
                table,
                state.source_arn,
            )
        if result.throttled is not None:
            # Not an attempt: the same batch goes again after a back-off, and order is kept.
            backoff = self._poller.throttle_backoff(state)
            state.not_before = time.monotonic() + backoff
            self._poller.trace.emit(
                "esm",
                f"{label} throttled ({result.throttled}); again in {backoff:.3f} s",
                **fields,
                outcome="throttled",
            )
            self._poller.schedule(state, backoff)
            return
        batch.invokes += 1
        batch.request_id = result.request_id
        batch.function_error = result.error is not None

        failed_from: int | None = None  # index of the first record to retry; None: the batch succeeded
        partial = False  # a valid partial batch response, as opposed to a failed invocation
        reason = ""
        if result.error is not None:
            failed_from, reason = 0, error_text(result.error)
        elif REPORT_BATCH_ITEM_FAILURES in (mapping.function_response_types or []):
            sequence_numbers = [entry.sequence_number for entry in batch.entries]
            failed = item_failures(result.payload, sequence_numbers)
            if failed is None:
                failed_from, reason = 0, f"invalid partial batch response {short(result.payload)}"
            elif failed:
                # Lambda checkpoints before the lowest reported sequence number and retries from there.
                failed_from = min(sequence_numbers.index(identifier) for identifier in failed)
                partial = True
                reason = f"batchItemFailures from {sequence_numbers[failed_from]}"
        if failed_from is None:
            state.pending.popleft()
            self._poller.trace.emit("esm", f"{label} ok in {took:.0f} ms", **fields, outcome="ok")
            self._poller.schedule(state)
            return

        if not partial and flag(mapping.bisect_on_error) and len(batch.entries) > 1:
            # Splitting does not count as a retry.
            half = len(batch.entries) // 2
            first, second = (
                StreamBatch(
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
            self._poller.trace.emit(
                "esm",
                f"{label} failed ({reason}); bisected into {half} + {len(second.entries)}",
                **fields,
                outcome="bisected",
            )
            self._poller.schedule(state)
            return

        if failed_from:
            batch.entries = batch.entries[failed_from:]
        batch.retries += 1
        max_retries = setting(mapping.max_retry_attempts, default=None)
        if max_retries is not None and batch.retries > max_retries:
            self._poller.trace.emit(
                "esm",
                f"{label} failed ({reason}); retries exhausted",
                **fields,
                outcome="error",
                reason=reason,
            )
            self._discard(state, mapping, shard, batch, batch.entries, "RetryAttemptsExhausted")
            state.pending.popleft()
            self._poller.schedule(state)
            return
        backoff = self._poller.settings.delay(min(2.0 ** (batch.retries - 1), MAX_STREAM_BACKOFF_SECONDS))
        state.not_before = time.monotonic() + backoff
        self._poller.trace.emit(
            "esm",
            f"{label} failed ({reason}); retry {batch.retries} of {len(batch.entries)} record(s) "
            f"in {backoff:.3f} s",
            **fields,
            outcome="partial failures" if partial else "error",
            reason=reason,
        )
        self._poller.schedule(state, backoff)

    def _discard(
        self,
        state: MappingState,
        mapping: Any,
        shard: Any,
        batch: StreamBatch,
        entries: list[Entry],
        condition: str,
    ) -> None:
        """Records Lambda gives up on: their description goes to the OnFailure destination, if any."""
        name = source_name(state.source_arn)
        function = function_name(mapping.function_arn)
        fields = {
            "mapping": state.uuid,
            "source": state.source_arn,
            "function": function,
            "records": len(entries),
            "condition": condition,
        }
        destination = (((mapping.destination_config or {}).get("OnFailure")) or {}).get("Destination")
        if not destination:
            self._poller.trace.emit(
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
            self._poller.trace.emit(
                "error",
                f"{name} stream -> {function}: OnFailure to {destination} failed: {error!r}; records dropped",
                **fields,
            )
            return
        self._poller.trace.emit(
            "esm",
            f"{name} stream -> {function}: {len(entries)} record(s) {condition}; sent to OnFailure "
            f"{aws.Arn.parse(destination).name}",
            **fields,
            outcome="sent to OnFailure",
            destination=destination,
        )

    def _failure_record(
        self, mapping: Any, shard: Any, batch: StreamBatch, entries: list[Entry], condition: str
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
        record["timestamp"] = iso(self._poller.clock.now(), milliseconds=True)
        record["DDBStreamBatchInfo"] = {
            "shardId": shard.id,
            "startSequenceNumber": entries[0].sequence_number,
            "endSequenceNumber": entries[-1].sequence_number,
            "approximateArrivalOfFirstRecord": iso(entries[0].created),
            "approximateArrivalOfLastRecord": iso(entries[-1].created),
            "batchSize": len(entries),
            "streamArn": mapping.event_source_arn,
        }
        return record


# --- helpers ----------------------------------------------------------------------------------------------


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
    created = getattr(stream_record, CREATED, None)
    if created is not None:
        return float(created)
    # A record moto wrote before localcloud took over: a naive UTC datetime.
    moment = stream_record.record["dynamodb"]["ApproximateCreationDateTime"]
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return float(moment)
