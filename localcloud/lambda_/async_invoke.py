"""Asynchronous Lambda invocation as AWS runs it: queued, retried, then sent to its destinations."""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from localcloud.core import backends as aws
from localcloud.core.clock import Clock
from localcloud.core.scheduler import Scheduler
from localcloud.core.settings import Settings
from localcloud.core.trace import Trace
from localcloud.lambda_.runtime import Runtime, Throttled

# Lambda's defaults for async invocations, and the waits between attempts (about 1 and 2 minutes).
DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE = 21600
RETRY_DELAYS = (60.0, 120.0)
# A throttled event goes back to the queue: Lambda retries it, with back-off, for up to 6 hours.
THROTTLE_BACKOFF_SECONDS = (1.0, 300.0)


@dataclass
class _Event:
    """One event in a function's asynchronous queue."""

    function_arn: str
    event: Any
    request_id: str
    received: float  # local clock
    attempt: int = 1
    throttles: int = 0


class FunctionNotFound(Exception):
    """The target function does not exist: the caller (EventBridge, S3...) sees a delivery failure."""

    code = "ResourceNotFoundException"


class AsyncInvoker:
    """`InvocationType=Event`: accepted at once, run by the scheduler, retried, then OnFailure/OnSuccess."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        scheduler: Scheduler,
        trace: Trace,
        runtime: Runtime,
    ) -> None:
        self._runtime = runtime
        # Lambda's asynchronous queue, per function: events wait here, not in a runner thread,
        # until one of the function's environments is free.
        self._queues: defaultdict[str, deque[_Event]] = defaultdict(deque)
        self._running: defaultdict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._settings = settings
        self._clock = clock
        self._scheduler = scheduler
        self._trace = trace

    def invoke(self, function_arn: str, event: Any, *, source: str = "") -> str:
        """Queues one async invocation; raises FunctionNotFound if there is no such function."""
        function = self._function(function_arn)
        request_id = str(uuid.uuid4())
        self._trace.emit(
            "lambda",
            f"{function.function_name} queued (async{', from ' + source if source else ''})",
            function=function.function_name,
            request_id=request_id,
            event=event,
        )
        self._enqueue(_Event(function.function_arn, event, request_id, self._clock.now()))
        return request_id

    def pending(self) -> int:
        """Events queued or running."""
        with self._lock:
            return sum(len(q) for q in self._queues.values()) + sum(self._running.values())

    def _enqueue(self, item: _Event) -> None:
        with self._lock:
            self._queues[item.function_arn].append(item)
        self._pump(item.function_arn)

    def _pump(self, function_arn: str) -> None:
        """Starts queued events while the function has environments to spare."""
        limit = self._runtime.local_limit(function_arn)
        with self._lock:
            queue = self._queues[function_arn]
            starting = []
            while queue and self._running[function_arn] < limit:
                self._running[function_arn] += 1
                starting.append(queue.popleft())
        for item in starting:
            self._scheduler.submit(functools.partial(self._run, item), name=f"lambda-async {function_arn}")

    def _run(self, item: _Event) -> None:
        try:
            self._attempt(item)
        finally:
            with self._lock:
                self._running[item.function_arn] -= 1
            self._pump(item.function_arn)

    def _later(self, item: _Event, delay: float) -> None:
        self._scheduler.submit(lambda: self._enqueue(item), delay=delay, name="lambda-async retry")

    def _function(self, function_arn: str) -> Any:
        arn = aws.Arn.parse(function_arn)
        try:
            return aws.lambda_backend(arn.account, arn.region).get_function(function_arn)
        except Exception as error:
            raise FunctionNotFound(f"Function not found: {function_arn}") from error

    def _config(self, function: Any) -> dict[str, Any]:
        configs = getattr(function, "event_invoke_config", [])
        return dict(configs[0].config) if configs else {}

    def _attempt(self, item: _Event) -> None:
        function_arn, event, request_id, attempt = (
            item.function_arn,
            item.event,
            item.request_id,
            item.attempt,
        )
        try:
            function = self._function(function_arn)
        except FunctionNotFound:
            self._trace.emit(
                "lambda", f"{function_arn} was deleted; async event dropped", request_id=request_id
            )
            return
        config = self._config(function)
        max_retries = int(config.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS))
        max_age = int(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE))

        started = time.monotonic()
        try:
            result = self._runtime.invoke(function, event)
        except Throttled as throttled:
            item.throttles += 1
            low, high = THROTTLE_BACKOFF_SECONDS
            delay = self._settings.delay(min(low * 2 ** (item.throttles - 1), high))
            if self._clock.now() - item.received < max_age:
                self._trace.emit(
                    "lambda",
                    f"{function.function_name} throttled ({throttled.reason}); "
                    f"back in the queue in {delay:.2f} s",
                    function=function.function_name,
                    request_id=request_id,
                    outcome="throttled",
                )
                self._later(item, delay)
                return
            error = {"errorType": "TooManyRequestsException", "errorMessage": str(throttled)}
            self._send_to_destination(
                function, config, "OnFailure", event, error, request_id, attempt - 1, "EventAgeExceeded"
            )
            return
        took = (time.monotonic() - started) * 1000
        response = _decode(result.payload)
        name = function.function_name
        if not result.errored:
            self._trace.emit(
                "lambda",
                f"{name} ok in {took:.0f} ms (attempt {attempt})",
                function=name,
                request_id=request_id,
                outcome="ok",
                attempt=attempt,
                response=response,
            )
            self._send_to_destination(
                function, config, "OnSuccess", event, response, request_id, attempt, "Success"
            )
            return

        error = response if isinstance(response, dict) else {"errorMessage": str(response)}
        age = self._clock.now() - item.received
        if attempt <= max_retries and age < max_age:
            delay = self._settings.delay(RETRY_DELAYS[min(attempt - 1, len(RETRY_DELAYS) - 1)])
            self._trace.emit(
                "lambda",
                f"{name} failed (attempt {attempt}): {error.get('errorType')}: "
                f"{_short(error.get('errorMessage'))}; retry in {delay:.2f} s",
                function=name,
                request_id=request_id,
                outcome="retry",
                attempt=attempt,
                error=error,
            )
            item.attempt += 1
            self._later(item, delay)
            return
        condition = "RetriesExhausted" if attempt > max_retries else "EventAgeExceeded"
        self._trace.emit(
            "lambda",
            f"{name} failed (attempt {attempt}): {error.get('errorType')}: "
            f"{_short(error.get('errorMessage'))}; {condition}",
            function=name,
            request_id=request_id,
            outcome="failed",
            attempt=attempt,
            error=error,
        )
        self._send_to_destination(function, config, "OnFailure", event, error, request_id, attempt, condition)

    def _send_to_destination(
        self,
        function: Any,
        config: dict[str, Any],
        kind: str,
        event: Any,
        response: Any,
        request_id: str,
        attempts: int,
        condition: str,
    ) -> None:
        destination = config.get("DestinationConfig", {}).get(kind, {}).get("Destination")
        if not destination:
            if kind == "OnFailure":
                self._trace.emit(
                    "lambda", f"{function.function_name}: no OnFailure destination; event discarded"
                )
            return
        record = {
            "version": "1.0",
            "timestamp": datetime.fromtimestamp(self._clock.now(), UTC).isoformat(timespec="milliseconds")[
                :-6
            ]
            + "Z",
            "requestContext": {
                "requestId": request_id,
                "functionArn": f"{function.function_arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "responsePayload": response,
        }
        if kind == "OnFailure":
            record["responseContext"]["functionError"] = "Unhandled"
        body = aws.dumps(record)
        target = aws.Arn.parse(destination)
        if target.service == "sqs":
            aws.send_to_queue(destination, body)
        elif target.service == "sns":
            aws.publish_to_topic(destination, body)
        elif target.service == "lambda":
            self.invoke(destination, record, source=f"{function.function_name} {kind}")
        elif target.service == "events":
            detail_type = (
                f"Lambda Function Invocation Result - {'Success' if kind == 'OnSuccess' else 'Failure'}"
            )
            entry = {
                "Source": "lambda",
                "DetailType": detail_type,
                "Detail": body,
                "Resources": [function.function_arn],
                "EventBusName": destination,
            }
            with aws.BACKENDS:  # moto's backends are not thread-safe; this runs on a scheduler thread
                aws.events_backend(target.account, target.region).put_events([entry])
        self._trace.emit(
            "lambda",
            f"{function.function_name} {kind} -> {target.service}:{target.name}",
            function=function.function_name,
            request_id=request_id,
            destination=destination,
            destination_kind=kind,
        )


def _decode(result: Any) -> Any:
    if isinstance(result, bytes):
        result = result.decode("utf-8")
    if isinstance(result, str):
        try:
            return json.loads(result)
        except ValueError:
            return result
    return result


def _short(text: Any, limit: int = 200) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
