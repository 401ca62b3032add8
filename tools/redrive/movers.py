"""Returning parked messages where they came from, one mover per kind of DLQ.

Nothing is deleted from a DLQ before what replaces it was accepted: the send to the source queue,
the asynchronous invocation or the PutEvents entry. What a mover does not return (filtered out, not
redrivable, failed) is made visible in the DLQ again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tools.redrive import messages
from tools.redrive.records import (
    ON_FAILURE,
    QUEUE,
    RULE,
    STREAM,
    DeadLetterQueue,
    NotRedrivable,
    Parked,
    error_of,
    event_entry,
    invocation,
    matches,
    stream_pointer,
)

STREAM_NOTE = (
    "a stream OnFailure record points at shard records (shard, sequence numbers), it does not hold them: "
    "read them from the stream while it still keeps them (24 h) or repair from the table; left parked"
)


@dataclass
class Options:
    error: str | None = None  # --error
    rate: float | None = None  # --rate, messages a second
    dry_run: bool = False
    limit: int = 1000  # most messages read from one DLQ in one run
    wait: float = 300.0  # longest wait for a StartMessageMoveTask to finish


@dataclass
class Outcome:
    """What happened in one DLQ."""

    dlq: DeadLetterQueue
    moved: int = 0
    skipped: int = 0  # not matching --error
    left: int = 0  # cannot be redriven from the message alone
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


class Pacer:
    """At most `rate` messages a second (none: as fast as the APIs answer)."""

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._gap = 1.0 / rate if rate else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0

    def wait(self) -> None:
        if not self._gap:
            return
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self._gap


@dataclass
class Redriver:
    """Moves what one run selected; `events` puts rule DLQ entries back (with the redrive role if found)."""

    sqs: Any
    lambda_: Any
    events: Any
    options: Options
    sleep: Callable[[float], None] = time.sleep

    def redrive(self, dlq: DeadLetterQueue) -> Outcome:
        outcome = Outcome(dlq)
        rate = self.options.rate
        if (
            dlq.kind == QUEUE
            and not self.options.error
            and not self.options.dry_run
            and (not rate or rate >= 1)
        ):
            self._move_task(dlq, outcome)  # SQS's rate is whole messages a second: below 1, one by one here
            return outcome
        hide = messages.hide_for(self.options.limit, rate)
        parked = messages.read(self.sqs, dlq.url, limit=self.options.limit, hide=hide)
        kept: list[Parked] = []
        pacer = Pacer(self.options.rate, sleep=self.sleep)
        try:
            for message in parked:
                if not matches(dlq.kind, message, self.options.error):
                    outcome.skipped += 1
                    kept.append(message)
                    continue
                if self.options.dry_run or dlq.kind == STREAM:
                    if dlq.kind == STREAM:
                        outcome.left += 1
                        outcome.notes.append(f"{message.message_id}: {stream_pointer(message)}")
                    else:
                        outcome.moved += 1  # would be moved
                    kept.append(message)
                    continue
                pacer.wait()
                try:
                    self._return(dlq, message)
                except NotRedrivable as reason:
                    outcome.left += 1
                    outcome.notes.append(f"{message.message_id}: {reason}")
                    kept.append(message)
                    continue
                except (ClientError, BotoCoreError, Failed) as error:
                    outcome.failures.append(f"{message.message_id} ({error_of(dlq.kind, message)}): {error}")
                    kept.append(message)
                    continue
                messages.delete(self.sqs, dlq.url, message)
                outcome.moved += 1
        finally:
            unrestored = messages.restore(self.sqs, dlq.url, kept)
            if unrestored:
                outcome.notes.append(
                    f"{len(unrestored)} message(s) stay hidden until their {hide}-s "
                    f"visibility timeout ends: {unrestored[0]}"
                )
        if dlq.kind == STREAM and outcome.left:
            outcome.notes.insert(0, STREAM_NOTE)
        if len(parked) >= self.options.limit:
            outcome.notes.append(f"read the first {self.options.limit} message(s) only (--limit); run again")
        return outcome

    # -- one message back where it came from -------------------------------------------------------
    def _return(self, dlq: DeadLetterQueue, message: Parked) -> None:
        if dlq.kind == QUEUE:
            self._to_source_queue(dlq, message)
        elif dlq.kind == ON_FAILURE:
            function, payload = invocation(message)
            response = self.lambda_.invoke(
                FunctionName=function, InvocationType="Event", Payload=payload.encode()
            )
            if response.get("StatusCode") != 202:
                raise Failed(f"Invoke answered {response.get('StatusCode')}")
        elif dlq.kind == RULE:
            entry = event_entry(message)
            result = self.events.put_events(Entries=[entry])
            if result.get("FailedEntryCount"):
                failed = result["Entries"][0]
                raise Failed(f"PutEvents: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}")
        else:
            raise NotRedrivable(f"no mover for DLQs of kind {dlq.kind}")

    def _to_source_queue(self, dlq: DeadLetterQueue, message: Parked) -> None:
        if len(dlq.sources) != 1:
            raise NotRedrivable(
                f"{dlq.name} serves {len(dlq.sources)} queues: which one it came from is unknown"
            )
        source = dlq.sources[0]
        url = self.sqs.get_queue_url(QueueName=source.name)["QueueUrl"]
        params: dict[str, Any] = {"QueueUrl": url, "MessageBody": message.body}
        if message.message_attributes:
            params["MessageAttributes"] = {
                name: {key: value for key, value in attribute.items() if key in _ATTRIBUTE_KEYS}
                for name, attribute in message.message_attributes.items()
            }
        if source.name.endswith(".fifo"):
            params["MessageGroupId"] = message.attributes.get("MessageGroupId", "redrive")
            params["MessageDeduplicationId"] = message.message_id
        self.sqs.send_message(**params)

    # -- a whole queue DLQ at once ------------------------------------------------------------------
    def _move_task(self, dlq: DeadLetterQueue, outcome: Outcome) -> None:
        """SQS's own redrive (StartMessageMoveTask): back to the source queue, at --rate if given."""
        params: dict[str, Any] = {"SourceArn": dlq.arn}
        if len(dlq.sources) == 1:
            params["DestinationArn"] = dlq.sources[0].arn
        if self.options.rate:
            params["MaxNumberOfMessagesPerSecond"] = max(1, int(self.options.rate))
        visible, _ = messages.depth(self.sqs, dlq.url)
        if not visible:
            return
        try:
            handle = self.sqs.start_message_move_task(**params)["TaskHandle"]
        except (ClientError, BotoCoreError) as error:
            outcome.failures.append(f"StartMessageMoveTask: {error}")
            return
        deadline = time.monotonic() + self.options.wait
        while True:
            task = self.sqs.list_message_move_tasks(SourceArn=dlq.arn, MaxResults=1)["Results"][0]
            if task.get("Status") != "RUNNING" or time.monotonic() > deadline:
                break
            self.sleep(0.5)
        outcome.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        status = task.get("Status")
        if status == "RUNNING":
            outcome.notes.append(
                f"move task still running after {self.options.wait:.0f} s (handle {handle}); "
                f"follow it with: aws sqs list-message-move-tasks --source-arn {dlq.arn}"
            )
        elif status != "COMPLETED":
            outcome.failures.append(f"move task {status}: {task.get('FailureReason', 'no reason given')}")
        else:
            outcome.notes.append(
                f"moved by StartMessageMoveTask ({task.get('ApproximateNumberOfMessagesToMove')} to move)"
            )


class Failed(Exception):
    """An API accepted the call but not the message (a failed PutEvents entry, an unexpected status)."""


_ATTRIBUTE_KEYS = {"DataType", "StringValue", "BinaryValue"}


def describe(outcome: Outcome, *, dry_run: bool) -> list[str]:
    """The lines printed for one DLQ."""
    verb = "would move" if dry_run else "moved"
    head = f"{outcome.dlq.name} [{outcome.dlq.kind}]: {verb} {outcome.moved}"
    head += f", skipped {outcome.skipped} by filter"
    if outcome.left:
        head += f", left {outcome.left} (not redrivable)"
    head += f", failed {outcome.failed}"
    lines = [head]
    lines += [f"  failed: {failure}" for failure in outcome.failures]
    lines += [f"  note: {note}" for note in outcome.notes]
    return lines
