"""SQS dead-letter queue redrive: StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask.

moto 5.2.5 has none of the three. A task moves the messages that were visible in a dead-letter queue
when it started, at MaxNumberOfMessagesPerSecond if given, each as a new message (fresh receive count,
same body and attributes) sent before it leaves the DLQ. Without DestinationArn AWS returns each
message to the queue it came from; moto does not record that, so here the DLQ must serve exactly one
source queue (else the task fails and says to name DestinationArn).
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from localcloud.core import backends as aws
from localcloud.core.backends import BACKENDS
from localcloud.core.patches import PatchSet
from localcloud.core.scheduler import Scheduler
from localcloud.core.trace import Trace

MAX_RATE = 500  # AWS's bound on MaxNumberOfMessagesPerSecond
UNTHROTTLED_BATCH = 100  # messages moved per step when no rate is given
KEEP_PER_SOURCE = 10  # ListMessageMoveTasks shows at most the 10 latest tasks of a source


@dataclass
class MoveTask:
    task_id: str
    source_arn: str
    destination_arn: str | None
    rate: int | None
    to_move: int
    started_ms: int
    status: str = "RUNNING"
    moved: int = 0
    failure: str | None = None
    remaining_ids: list[str] = field(default_factory=list)

    @property
    def handle(self) -> str:
        raw = json.dumps({"taskId": self.task_id, "sourceArn": self.source_arn}).encode()
        return base64.b64encode(raw).decode()

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started_ms,
        }
        if self.status == "RUNNING":
            out["TaskHandle"] = self.handle
        if self.destination_arn:
            out["DestinationArn"] = self.destination_arn
        if self.rate is not None:
            out["MaxNumberOfMessagesPerSecond"] = self.rate
        if self.failure:
            out["FailureReason"] = self.failure
        return out


def _error(code: str, message: str) -> Exception:
    from moto.sqs.exceptions import SQSException

    return SQSException(code, message)


class MoveTasks:
    """The move tasks of this localcloud, run on its scheduler."""

    def __init__(self, *, scheduler: Scheduler, trace: Trace) -> None:
        self._scheduler = scheduler
        self._trace = trace
        self._lock = threading.Lock()
        self._tasks: dict[str, list[MoveTask]] = {}  # source ARN -> tasks, latest first
        self._ids = itertools.count(1)

    # -- the API (called with the backend lock held, from moto's response) --------------------------
    def start(self, backend: Any, source_arn: str, destination_arn: str | None, rate: Any) -> str:
        dlq = _queue_by_arn(backend, source_arn, "SourceArn")
        sources = backend.list_dead_letter_source_queues(dlq.name)
        if not sources:
            raise _error("InvalidParameterValue", "Source queue must be configured as a Dead Letter Queue.")
        if destination_arn:
            _queue_by_arn(backend, destination_arn, "DestinationArn")
            if destination_arn == source_arn:
                raise _error("InvalidParameterValue", "Destination queue must differ from the source queue.")
        if rate is not None:
            rate = int(rate)
            if not 1 <= rate <= MAX_RATE:
                raise _error(
                    "InvalidParameterValue",
                    f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. "
                    f"Reason: Must be between 1 and {MAX_RATE}.",
                )
        with self._lock:
            tasks = self._tasks.setdefault(source_arn, [])
            if any(task.status == "RUNNING" for task in tasks):
                raise _error(
                    "UnsupportedOperation",
                    "There is already a task running. Only one active task is allowed for each source "
                    "queue arn at a given time.",
                )
            visible = [message.id for message in dlq.messages]
            task = MoveTask(
                task_id=f"move-{next(self._ids)}",
                source_arn=source_arn,
                destination_arn=destination_arn or None,
                rate=rate,
                to_move=len(visible),
                started_ms=int(time.time() * 1000),
                remaining_ids=visible,
            )
            tasks.insert(0, task)
            del tasks[KEEP_PER_SOURCE:]
        if not destination_arn and len(sources) != 1:
            names = ", ".join(sorted(queue.name for queue in sources))
            self._finish(
                task,
                "FAILED",
                f"{dlq.name} is the DLQ of {len(sources)} queues ({names}): "
                "localcloud does not record each message's origin; name DestinationArn",
            )
        else:
            target = destination_arn or sources[0].queue_arn
            self._trace.emit(
                "sqs",
                f"move task {task.task_id}: {len(visible)} message(s) {dlq.name} -> "
                f"{aws.Arn.parse(target).name}" + (f" at {rate}/s" if rate else ""),
                source=source_arn,
                destination=target,
            )
            self._scheduler.submit(lambda: self._step(task, target), name=f"sqs move {task.task_id}")
        return task.handle

    def listed(self, source_arn: str, max_results: Any) -> list[dict[str, Any]]:
        limit = 1 if max_results is None else int(max_results)
        if not 1 <= limit <= 10:
            raise _error("InvalidParameterValue", "MaxResults must be between 1 and 10.")
        with self._lock:
            return [task.describe() for task in self._tasks.get(source_arn, [])[:limit]]

    def cancel(self, handle: str) -> int:
        task = self._by_handle(handle)
        with self._lock:
            if task.status != "RUNNING":
                raise _error(
                    "UnsupportedOperation", f"Only a running task can be cancelled; it is {task.status}."
                )
            task.status = "CANCELLED"
            moved = task.moved
        self._trace.emit("sqs", f"move task {task.task_id} cancelled after {moved} message(s)")
        return moved

    # -- moving -----------------------------------------------------------------------------------
    def _step(self, task: MoveTask, target_arn: str) -> None:
        """Moves one message (with a rate) or a batch (without), then schedules the next step."""
        batch = 1 if task.rate else UNTHROTTLED_BATCH
        try:
            with BACKENDS:
                if task.status != "RUNNING":
                    return
                source = aws.Arn.parse(task.source_arn)
                backend = aws.sqs_backend(source.account, source.region)
                dlq = backend.get_queue(source.resource)
                target = aws.Arn.parse(target_arn)
                destination = aws.sqs_backend(target.account, target.region).get_queue(target.resource)
                moved = 0
                while task.remaining_ids and moved < batch:
                    message_id = task.remaining_ids.pop(0)
                    message = next((m for m in dlq.messages if m.id == message_id), None)
                    if message is None:  # deleted, or in flight with a consumer, since the task began
                        continue
                    self._move(dlq, destination, message)
                    moved += 1
                    task.moved += 1
        except Exception as error:  # a queue deleted under the task: the task fails and says why
            self._finish(task, "FAILED", f"{type(error).__name__}: {error}")
            return
        if not task.remaining_ids:
            self._finish(task, "COMPLETED", None)
            return
        delay = 1.0 / task.rate if task.rate else 0.0  # the rate is the operator's: never time-scaled
        self._scheduler.submit(
            lambda: self._step(task, target_arn), delay=delay, name=f"sqs move {task.task_id}"
        )

    @staticmethod
    def _move(dlq: Any, destination: Any, message: Any) -> None:
        """Sends a copy to the destination first; only then does the original leave the DLQ."""
        backend = aws.sqs_backend(destination.account_id, destination.region)
        extra: dict[str, Any] = {}
        if destination.fifo_queue:
            extra = {"group_id": message.group_id, "deduplication_id": message.deduplication_id or message.id}
        backend.send_message(
            destination.name,
            message.body,
            message_attributes=dict(message.message_attributes or {}),
            **extra,
        )
        with dlq._messages_lock:
            dlq._messages.remove(message)
            dlq.pending_messages.discard(message)

    def _finish(self, task: MoveTask, status: str, failure: str | None) -> None:
        with self._lock:
            if task.status != "RUNNING":
                return
            task.status, task.failure = status, failure
        why = f": {failure}" if failure else ""
        self._trace.emit(
            "sqs", f"move task {task.task_id} {status.lower()}: {task.moved}/{task.to_move} moved{why}"
        )

    def _by_handle(self, handle: str) -> MoveTask:
        try:
            decoded = json.loads(base64.b64decode(handle, validate=True))
            task_id, source_arn = decoded["taskId"], decoded["sourceArn"]
        except (ValueError, TypeError, KeyError):
            raise _error("ResourceNotFoundException", "Task does not exist.") from None
        with self._lock:
            for task in self._tasks.get(source_arn, []):
                if task.task_id == task_id:
                    return task
        raise _error("ResourceNotFoundException", "Task does not exist.")


def _queue_by_arn(backend: Any, arn: str, parameter: str) -> Any:
    try:
        parsed = aws.Arn.parse(arn)
    except ValueError:
        raise _error("InvalidParameterValue", f"{parameter} is not a queue ARN: {arn!r}") from None
    queue = aws.sqs_backend(parsed.account, parsed.region).queues.get(parsed.resource)
    if parsed.service != "sqs" or queue is None:
        raise _error(
            "ResourceNotFoundException",
            f"The resource that you specified for the {parameter} parameter doesn't exist.",
        )
    return queue


def move_task_patches(tasks: MoveTasks) -> PatchSet:
    """The three operations, added to moto's SQS responses."""
    from moto.core.responses import ActionResult

    patches = PatchSet("sqs move tasks")

    def start_message_move_task(response: Any) -> Any:
        handle = tasks.start(
            response.sqs_backend,
            str(response._get_param("SourceArn")),
            response._get_param("DestinationArn"),
            response._get_param("MaxNumberOfMessagesPerSecond"),
        )
        return ActionResult({"TaskHandle": handle})

    def list_message_move_tasks(response: Any) -> Any:
        results = tasks.listed(str(response._get_param("SourceArn")), response._get_param("MaxResults"))
        return ActionResult({"Results": results})

    def cancel_message_move_task(response: Any) -> Any:
        moved = tasks.cancel(str(response._get_param("TaskHandle")))
        return ActionResult({"ApproximateNumberOfMessagesMoved": moved})

    why = "moto 5.2.5 has no DLQ redrive API; `make redrive` moves parked messages with it"
    for name, function in (
        ("start_message_move_task", start_message_move_task),
        ("list_message_move_tasks", list_message_move_tasks),
        ("cancel_message_move_task", cancel_message_move_task),
    ):
        patches.add(f"moto.sqs.responses:SQSResponse.{name}", function, why=why)
    return patches
