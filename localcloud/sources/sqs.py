"""SQS event source mappings: batches received, handed to the function, deleted or left, as Lambda does."""

from __future__ import annotations

import contextlib
import copy
import time
from typing import TYPE_CHECKING, Any

from localcloud.core import backends as aws
from localcloud.core.backends import BACKENDS
from localcloud.sources.records import (
    REPORT_BATCH_ITEM_FAILURES,
    error_text,
    function_name,
    item_failures,
    short,
    sqs_filter_view,
    sqs_record,
)

if TYPE_CHECKING:
    from localcloud.sources.poller import EventSourcePoller, MappingState

# Lambda starts five pollers on a queue, each with a batch in flight; MaximumConcurrency caps them.
DEFAULT_CONCURRENCY = 5
# moto compares visibility times strictly in milliseconds: wake just after a message is visible again.
_VISIBILITY_SLACK_SECONDS = 0.005


class QueuePolling:
    """Polls the SQS queues of a poller's mappings."""

    def __init__(self, poller: EventSourcePoller) -> None:
        self._poller = poller

    def poll(self, state: MappingState, mapping: Any) -> None:
        poller = self._poller
        wait = state.not_before - time.monotonic()
        if wait > 0:
            poller.schedule(state, wait)  # a throttled mapping backs off: new messages do not cut it short
            return
        if not poller.take_slot(state, _concurrency(mapping)):
            return  # a batch in flight ends by polling again
        try:
            handled = self._poll(state, mapping)
        finally:
            poller.free_slot(state)
        if handled:  # more may be waiting: poll again (after a throttle's back-off)
            poller.schedule(state, max(state.not_before - time.monotonic(), 0.0))

    def _poll(self, state: MappingState, mapping: Any) -> bool:
        """One batch, in one of the mapping's slots: received, handed over, deleted or left.

        False when there was none (whatever should wake the mapping is scheduled already).
        """
        poller = self._poller
        arn = aws.Arn.parse(state.source_arn)
        if poller.reserved_zero(state, mapping):
            return False
        with BACKENDS:
            backend = aws.sqs_backend(arn.account, arn.region)
            queue = backend.queues.get(arn.resource)
            if queue is None:
                poller.note(state, f"queue {arn.resource} does not exist")
                return False
            batch_size = int(mapping.batch_size)
            visible = len(queue.messages)
            if not visible:
                state.window_started = None
                self._schedule_next_visible(state, queue)
                return False
            window = poller.settings.delay(float(mapping.max_batch_window or 0))
            if visible < batch_size and window > 0:
                now = time.monotonic()
                if state.window_started is None:
                    state.window_started = now
                remaining = state.window_started + window - now
                if remaining > 0:
                    poller.schedule(state, remaining)
                    return False
            state.window_started = None
            _release_expired_in_flight(queue)
            candidates = _redrive_candidates(queue)
            received_at = time.time()
            # Lambda receives every message attribute ("All"), as its event shows them.
            messages = backend.receive_message(
                queue.name, batch_size, 0, queue.visibility_timeout, message_attribute_names=["All"]
            )
            remaining_ids = {message.id for message in queue._messages}
            records = [sqs_record(message, queue) for message in messages]
        redriven = [message for message in candidates if message.id not in remaining_ids]
        if redriven:
            poller.trace.emit(
                "esm",
                f"{queue.name}: {len(redriven)} message(s) redriven to DLQ {queue.dead_letter_queue.name} "
                f"after {queue.redrive_policy['maxReceiveCount']} receive(s)",
                mapping=state.uuid,
                source=state.source_arn,
                records=len(redriven),
                outcome="redriven to DLQ",
                message_ids=[message.id for message in redriven],
            )
        if not records:
            with BACKENDS:
                self._schedule_next_visible(state, queue)
            return False
        patterns = poller.filters(state, mapping)
        matching = [record for record in records if poller.passes(patterns, sqs_filter_view(record))]
        # Lambda deletes the messages no filter matches.
        unmatched = len(records) - len(matching)
        keep: set[str] = set()  # ids of the messages that stay in the queue
        throttled = False
        if matching:
            # Another slot may take the next batch while this one runs.
            poller.schedule(state)
            keep, throttled = self._invoke_batch(state, mapping, queue, matching)
            if throttled:
                state.not_before = time.monotonic() + poller.throttle_backoff(state)
        if unmatched:
            poller.trace_filtered(state, f"{queue.name}: {unmatched} message(s)", unmatched, "deleted")
        with BACKENDS:
            for record in records:
                if record["messageId"] not in keep:
                    _delete(backend, queue, record["receiptHandle"])
            if keep and poller.settings.fast:
                # The messages left come back after the queue's visibility timeout, compressed.
                back_at = (received_at + poller.settings.delay(float(queue.visibility_timeout or 0))) * 1000
                for message in queue._messages:
                    if message.id in keep:
                        message.visible_at = max(back_at, time.time() * 1000)
        return True

    def _invoke_batch(
        self, state: MappingState, mapping: Any, queue: Any, records: list[dict[str, Any]]
    ) -> tuple[set[str], bool]:
        """Invokes the function with one batch: the ids of the messages that stay, and if it was throttled."""
        poller = self._poller
        every = {record["messageId"] for record in records}
        function = function_name(mapping.function_arn)
        started = time.monotonic()
        # A copy: what the handler does to its event must not change what is deleted.
        result = poller.call(state, mapping.function_arn, {"Records": copy.deepcopy(records)})
        took = (time.monotonic() - started) * 1000
        if result.throttled is None and result.error is None:
            poller.call_again_if_duplicated(
                state,
                mapping.function_arn,
                {"Records": copy.deepcopy(records)},
                "queue",
                queue.name,
                queue.queue_arn,
            )
        label = f"{queue.name} -> {function}: {len(records)} message(s)"
        fields: dict[str, Any] = {
            "mapping": state.uuid,
            "source": state.source_arn,
            "function": function,
            "records": len(records),
            # What a flow's trace links the invocation by: the messages it got, the time it took.
            "message_ids": [record["messageId"] for record in records],
            "duration_ms": round(took, 1),
        }
        if result.throttled is not None:
            poller.trace.emit(
                "esm",
                f"{label} throttled ({result.throttled}); back to the queue after its visibility timeout",
                **fields,
                outcome="throttled",
            )
            return every, True
        if result.error is not None:
            poller.trace.emit(
                "esm",
                f"{label} failed in {took:.0f} ms ({error_text(result.error)}); "
                "batch back to the queue after its visibility timeout",
                **fields,
                outcome="error",
                error=result.error,
            )
            return every, False
        if REPORT_BATCH_ITEM_FAILURES not in (mapping.function_response_types or []):
            poller.trace.emit("esm", f"{label} ok in {took:.0f} ms", **fields, outcome="ok")
            return set(), False
        failed = item_failures(result.payload, [record["messageId"] for record in records])
        if failed is None:
            poller.trace.emit(
                "esm",
                f"{label}: invalid partial batch response {short(result.payload)}; "
                "whole batch back to the queue",
                **fields,
                outcome="error",
                response=result.payload,
            )
            return every, False
        if not failed:
            poller.trace.emit("esm", f"{label} ok in {took:.0f} ms", **fields, outcome="ok")
            return set(), False
        poller.trace.emit(
            "esm",
            f"{label} in {took:.0f} ms: {len(failed)} failed (batchItemFailures), "
            f"{len(records) - len(failed)} deleted",
            **fields,
            outcome="partial failures",
            failed=failed,
        )
        return set(failed), False

    def _schedule_next_visible(self, state: MappingState, queue: Any) -> None:
        """Wakes when the next in-flight or delayed message becomes receivable (nothing else would tell)."""
        now_ms = time.time() * 1000
        upcoming = [
            moment
            for message in list(queue._messages)
            for moment in (message.visible_at, message.delayed_until)
            if moment > now_ms
        ]
        if upcoming:
            self._poller.schedule(state, (min(upcoming) - now_ms) / 1000 + _VISIBILITY_SLACK_SECONDS)


def _concurrency(mapping: Any) -> int:
    maximum = (mapping.scaling_config or {}).get("MaximumConcurrency")
    return int(maximum) if maximum else DEFAULT_CONCURRENCY


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
