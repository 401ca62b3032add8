"""Asynchronous Lambda invocation as AWS runs it: queued, retried, then sent to its destinations."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from localcloud import aws
from localcloud.core import Clock, Scheduler, Settings, Trace
from localcloud.lambda_runtime import InProcessRuntime

# Lambda's defaults for async invocations, and the waits between attempts (about 1 and 2 minutes).
DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE = 21600
RETRY_DELAYS = (60.0, 120.0)


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
        runtime: InProcessRuntime,
    ) -> None:
        self._runtime = runtime
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
        received = self._clock.now()
        self._scheduler.submit(
            lambda: self._attempt(function_arn, event, request_id, received, 1),
            name=f"lambda-async {function.function_name}",
        )
        return request_id

    def _function(self, function_arn: str) -> Any:
        arn = aws.Arn.parse(function_arn)
        try:
            return aws.lambda_backend(arn.account, arn.region).get_function(function_arn)
        except Exception as error:
            raise FunctionNotFound(f"Function not found: {function_arn}") from error

    def _config(self, function: Any) -> dict[str, Any]:
        configs = getattr(function, "event_invoke_config", [])
        return dict(configs[0].config) if configs else {}

    def _attempt(self, function_arn: str, event: Any, request_id: str, received: float, attempt: int) -> None:
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
        result = self._runtime.invoke(function, event)
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
        age = self._clock.now() - received
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
            self._scheduler.submit(
                lambda: self._attempt(function_arn, event, request_id, received, attempt + 1),
                delay=delay,
                name=f"lambda-async retry {name}",
            )
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
            aws.events_backend(target.account, target.region).put_events(
                [
                    {
                        "Source": "lambda",
                        "DetailType": detail_type,
                        "Detail": body,
                        "Resources": [function.function_arn],
                        "EventBusName": destination,
                    }
                ]
            )
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
