"""EventBridge as AWS runs it: PutEvents with per-entry errors, exact pattern matching, every
target type, input transformation, retry policies, dead-letter queues and archives."""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Container
from datetime import UTC, datetime
from typing import Any

from localcloud.core import backends as aws
from localcloud.core.backends import BACKENDS
from localcloud.core.clock import Clock
from localcloud.core.faults import Faults
from localcloud.core.patches import PatchSet
from localcloud.core.scheduler import Scheduler
from localcloud.core.settings import Settings
from localcloud.core.trace import Trace
from localcloud.eventbridge.aws_events import s3_notification
from localcloud.eventbridge.pattern_matching import CompiledPattern
from localcloud.eventbridge.patterns import InvalidEventPattern, compile_pattern
from localcloud.eventbridge.replay import keep
from localcloud.eventbridge.schedules import ScheduledRules, check_schedule
from localcloud.eventbridge.transform import InputTransformError, target_input
from localcloud.lambda_.async_invoke import AsyncInvoker, FunctionNotFound

MAX_ENTRY_BYTES = 256 * 1024
# EventBridge's defaults when a target states no RetryPolicy: 185 attempts within 24 hours.
DEFAULT_RETRY_ATTEMPTS = 185
DEFAULT_MAX_EVENT_AGE = 86400
# Errors EventBridge does not retry: the target is gone or not allowed; the event goes straight to the DLQ.
NON_RETRIABLE = {"ResourceNotFoundException", "AccessDeniedException", "NotFound", "QueueDoesNotExist"}
ARCHIVE_RULE_PREFIX = "Events-Archive-"


class DeliveryError(Exception):
    """A target could not accept an event; `code` becomes the DLQ's ERROR_CODE attribute."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class EventBridgeEngine:
    """Replaces moto's PutEvents routing and delivery; moto keeps the buses, rules and targets."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        scheduler: Scheduler,
        trace: Trace,
        invoker: AsyncInvoker,
        faults: Faults | None = None,
    ) -> None:
        self._faults = faults
        self._settings = settings
        self._clock = clock
        self._scheduler = scheduler
        self._trace = trace
        self._invoker = invoker
        self.schedules = ScheduledRules(self, clock=clock, scheduler=scheduler, trace=trace)

    # -- installation into moto ---------------------------------------------------------------
    def patches(self) -> PatchSet:
        """moto keeps the buses, rules and targets; routing and delivery are this engine's."""
        engine = self
        patches = PatchSet("eventbridge")

        def put_events(backend: Any, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return engine.put_events(backend, entries)

        def validating(original: Any) -> Any:
            def put_rule(backend: Any, name: str, *args: Any, **kwargs: Any) -> Any:
                pattern = kwargs.get("event_pattern")
                if pattern:
                    engine.check_pattern(pattern)
                schedule = kwargs.get("scheduled_expression")
                if schedule:
                    check_schedule(schedule)
                rule = original(backend, name, *args, **kwargs)
                engine.schedules.noticed(rule)
                return rule

            return put_rule

        def send_to_targets(rule: Any, event: dict[str, Any], transform_input: bool = True) -> None:
            backend = aws.events_backend(rule.account_id, rule.region_name)
            deliveries: list[functools.partial[None]] = []
            engine._route_to_rule(backend, rule, event, deliveries)
            engine._deliver_all(deliveries)

        def test_event_pattern(handler: Any) -> str:
            result = engine.test_event_pattern(
                handler._get_param("EventPattern"), handler._get_param("Event")
            )
            return json.dumps({"Result": result})

        def s3_event(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
            engine.s3_event(account_id, bucket, event_name, key)

        patches.replace(
            "moto.events.models:EventsBackend.put_events",
            put_events,
            why="moto delivers to few target types and fails the whole call on the others; entries fail "
            "alone on AWS, and every rule is matched as AWS matches",
        )
        patches.wrap(
            "moto.events.models:EventsBackend.put_rule",
            validating,
            why="moto accepts most invalid patterns and cron expressions; AWS rejects them at PutRule "
            "with its message; a scheduled rule's time counts from its PutRule",
        )
        patches.replace(
            "moto.events.models:Rule.send_to_targets",
            send_to_targets,
            why="moto's replay path: replayed events are matched and delivered as any other",
        )
        patches.replace(
            "moto.events.responses:EventsHandler.test_event_pattern",
            test_event_pattern,
            why="moto answers TestEventPattern with an empty 200",
        )
        patches.replace(
            "moto.s3.notifications:_send_event_bridge_message",
            s3_event,
            why="S3 events reach the default bus with AWS's detail types and fields",
        )
        return patches

    # -- API behaviour ------------------------------------------------------------------------
    @staticmethod
    def check_pattern(pattern_text: str) -> CompiledPattern:
        """Parses and validates a pattern, raising AWS's InvalidEventPatternException."""
        from moto.core.exceptions import JsonRESTError

        try:
            return compile_pattern(pattern_text)
        except InvalidEventPattern as error:
            raise JsonRESTError("InvalidEventPatternException", error.message) from None

    def test_event_pattern(self, pattern_text: str, event_text: str) -> bool:
        from moto.core.exceptions import JsonRESTError

        pattern = self.check_pattern(pattern_text)
        try:
            event = json.loads(event_text)
        except (TypeError, ValueError):
            raise JsonRESTError("ValidationException", "Parameter Event is not valid.") from None
        if not isinstance(event, dict):
            raise JsonRESTError("ValidationException", "Parameter Event is not valid.")
        return pattern.matches(event)

    def put_events(self, backend: Any, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One result per entry, in order; a bad entry fails alone, as in AWS."""
        from moto.events.exceptions import ValidationException

        if len(entries) > 10:
            raise ValidationException(
                "1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' failed to "
                "satisfy constraint: Member must have length less than or equal to 10"
            )
        results = []
        deliveries: list[functools.partial[None]] = []
        for entry in entries:
            error = self._entry_error(backend, entry)
            fault = self._faults.failed_entry("events", "PutEvents") if self._faults and not error else None
            if fault is not None:
                error = {"ErrorCode": fault.error_code, "ErrorMessage": fault.error_message}
            if error:
                results.append(error)
                self._trace.emit(
                    "put-events",
                    f"rejected entry {entry.get('Source')}/{entry.get('DetailType')}: "
                    f"{error['ErrorCode']}: {error['ErrorMessage']}",
                    error=error,
                )
                continue
            event = self._event_from_entry(backend, entry)
            results.append({"EventId": event["id"]})
            bus = backend.describe_event_bus(_bus_name(entry.get("EventBusName")))
            self._trace.emit(
                "event",
                f"{event['source']} / {event['detail-type']} on bus {bus.name} (id {event['id']})",
                bus=bus.name,
                event=event,
            )
            self._route(backend, bus, event, deliveries)
        self._deliver_all(deliveries)
        return results

    def _entry_error(self, backend: Any, entry: dict[str, Any]) -> dict[str, str] | None:
        for field in ("Source", "DetailType", "Detail"):
            if not entry.get(field):
                return {
                    "ErrorCode": "InvalidArgument",
                    "ErrorMessage": f"Parameter {field} is not valid. "
                    f"Reason: {field} is a required argument.",
                }
        try:
            detail = json.loads(entry["Detail"])
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
        if _entry_size(entry) > MAX_ENTRY_BYTES:
            return {
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": f"Parameter Entry is not valid. "
                f"Reason: entry size exceeds {MAX_ENTRY_BYTES} bytes.",
            }
        name = _bus_name(entry.get("EventBusName"))
        if name not in backend.event_buses:
            return {
                "ErrorCode": "ResourceNotFoundException",
                "ErrorMessage": f"Event bus {name} does not exist.",
            }
        return None

    def _event_from_entry(self, backend: Any, entry: dict[str, Any]) -> dict[str, Any]:
        when = entry.get("Time")
        seconds = float(when) if isinstance(when, int | float) else self._clock.now()
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": backend.account_id,
            "time": datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": backend.region_name,
            "resources": list(entry.get("Resources") or []),
            "detail": json.loads(entry["Detail"]),
        }

    def s3_event(self, account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        """S3 sends its notifications to the account's default bus (bucket with EventBridge enabled)."""
        event = s3_notification(account_id, bucket, event_name, key, now=self._clock.now())
        backend = aws.events_backend(account_id, bucket.region_name)
        self._scheduler.submit(lambda: self.route_event(backend, "default", event), name="s3 event")

    # -- routing ------------------------------------------------------------------------------
    def route_event(
        self,
        backend: Any,
        bus_name: str,
        event: dict[str, Any],
        *,
        inline: bool = False,
        rules: Container[str] | None = None,
    ) -> None:
        """Routes an already-formed event onto a bus (bus-to-bus forwarding, replays, S3, Lambda...);
        `inline` delivers it on this thread (in order with what the caller routes next); `rules`
        (ARNs), if given, are the only rules of the bus it may match (a replay's FilterArns)."""
        deliveries: list[functools.partial[None]] = []
        with BACKENDS:
            bus = backend.describe_event_bus(bus_name)
            self._trace.emit(
                "event",
                f"{event['source']} / {event['detail-type']} on bus {bus.name} (id {event['id']})",
                bus=bus.name,
                event=event,
            )
            self._route(backend, bus, event, deliveries, rules=rules)
        if inline:
            for deliver in deliveries:
                deliver()
        else:
            self._deliver_all(deliveries)

    def _deliver_all(self, deliveries: list[functools.partial[None]]) -> None:
        """One job delivers what one call routed: each delivery fails, retries and reports on its own."""
        if deliveries:
            self._scheduler.submit(lambda: [deliver() for deliver in deliveries], name="deliver")

    def _route(
        self,
        backend: Any,
        bus: Any,
        event: dict[str, Any],
        deliveries: list[functools.partial[None]],
        *,
        rules: Container[str] | None = None,
    ) -> None:
        matched = 0
        for rule in list(bus.rules.values()):
            if rules is None or rule.arn in rules:
                matched += self._route_to_rule(backend, rule, event, deliveries)
        if not matched:
            self._trace.emit("event", f"  no rule on {bus.name} matched {event['id']}", event_id=event["id"])

    def _route_to_rule(
        self, backend: Any, rule: Any, event: dict[str, Any], deliveries: list[functools.partial[None]]
    ) -> int:
        text = rule.event_pattern.dump()
        if rule.state != "ENABLED" or not text:
            return 0
        try:
            if not compile_pattern(text).matches(event):
                return 0
        except InvalidEventPattern:  # PutRule refuses these; a rule made otherwise matches nothing
            return 0
        if rule.name.startswith(ARCHIVE_RULE_PREFIX):
            self._archive(backend, rule, event)
            return 0
        self._trace.emit(
            "match",
            f"  rule {rule.name} matched {event['id']}: {len(rule.targets)} target(s)",
            rule=rule.name,
            event_id=event["id"],
        )
        self._to_targets(rule, event, deliveries)
        return 1

    def _to_targets(
        self, rule: Any, event: dict[str, Any], deliveries: list[functools.partial[None]]
    ) -> None:
        first = self._clock.now()
        for target in list(rule.targets):
            deliveries.append(functools.partial(self._deliver, rule, target, event, 1, first))

    def deliver_to_rule(self, rule: Any, event: dict[str, Any]) -> None:
        """Delivers `event` to the targets of `rule` alone (a scheduled rule's event goes nowhere else)."""
        deliveries: list[functools.partial[None]] = []
        with BACKENDS:
            self._to_targets(rule, event, deliveries)
        self._deliver_all(deliveries)

    def _archive(self, backend: Any, rule: Any, event: dict[str, Any]) -> None:
        for archive in backend.archives.values():
            if getattr(archive, "rule", None) is rule:
                keep(archive, event)
                self._trace.emit(
                    "archive", f"  archived {event['id']} in {archive.name}", archive=archive.name
                )

    # -- delivery -----------------------------------------------------------------------------
    def _deliver(
        self, rule: Any, target: dict[str, Any], event: dict[str, Any], attempt: int, first: float
    ) -> None:
        try:
            payload = target_input(
                event,
                input=target.get("Input"),
                input_path=target.get("InputPath"),
                input_transformer=target.get("InputTransformer"),
                rule_arn=rule.arn,
                rule_name=rule.name,
            )
            fault = self._faults.failed_delivery(rule.name, target["Id"]) if self._faults else None
            if fault is not None:
                raise DeliveryError(fault.error_code, fault.error_message)
            with BACKENDS:
                where = self._send(rule, target, event, payload)
                if self._faults and self._faults.duplicates("rule", rule.name, target=target["Id"]):
                    # At-least-once: the target gets the same event again.
                    where = f"{self._send(rule, target, event, payload)} (twice)"
        except (DeliveryError, InputTransformError) as error:
            code = getattr(error, "code", "InputTransformationFailed")
            self._failed(rule, target, event, attempt, first, code, str(error))
            return
        retried = f" (attempt {attempt})" if attempt > 1 else ""
        self._report(
            "deliver", rule, target, event, f"-> {where}: delivered{retried}", "delivered", payload=payload
        )

    def _failed(
        self,
        rule: Any,
        target: dict[str, Any],
        event: dict[str, Any],
        attempt: int,
        first: float,
        code: str,
        message: str,
    ) -> None:
        label = f"{rule.name}/{target['Id']}"
        policy = target.get("RetryPolicy") or {}
        max_retries = int(policy.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS))
        max_age = int(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE))
        age = self._clock.now() - first
        if code not in NON_RETRIABLE and attempt <= max_retries and age < max_age:
            # Exponential back-off, as EventBridge does, capped at five minutes between attempts.
            delay = self._settings.delay(min(2.0 ** (attempt - 1), 300.0))
            failure = f"failed ({code}: {message}); retry {attempt} in {delay:.2f} s"
            self._report("deliver", rule, target, event, failure, "retry", error=code)
            self._scheduler.submit(
                lambda: self._deliver(rule, target, event, attempt + 1, first),
                delay=delay,
                name=f"retry {label}",
            )
            return
        condition = None
        if code not in NON_RETRIABLE:
            condition = "MaximumRetryAttempts" if attempt > max_retries else "MaximumEventAgeInSeconds"
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not dlq:
            failure = f"failed ({code}: {message}); no DLQ: event dropped"
            self._report("deliver", rule, target, event, failure, "dropped", error=code)
            return
        attributes = {
            "RULE_ARN": rule.arn,
            "TARGET_ARN": target["Arn"],
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message,
            "RETRY_ATTEMPTS": str(attempt - 1),
        }
        if condition:
            attributes["EXHAUSTED_RETRY_CONDITION"] = condition
        try:
            aws.send_to_queue(dlq, aws.dumps(event), attributes=aws.string_attributes(attributes))
        except Exception as error:  # the DLQ itself is gone: nothing more EventBridge can do
            self._trace.emit("deliver", f"  {label}: DLQ {dlq} unreachable ({error}); event dropped")
            return
        failure = f"failed ({code}: {message}) -> DLQ {aws.Arn.parse(dlq).name}"
        self._report("dlq", rule, target, event, failure, "dlq", error=code, dlq=dlq)

    def _report(
        self,
        kind: str,
        rule: Any,
        target: dict[str, Any],
        event: dict[str, Any],
        what: str,
        outcome: str,
        **fields: Any,
    ) -> None:
        """One trace line about a delivery to a target: what happened and its outcome."""
        self._trace.emit(
            kind,
            f"  {rule.name}/{target['Id']} {what}",
            rule=rule.name,
            target=target["Id"],
            target_arn=target["Arn"],  # what the delivery reached, for `GET /_localcloud/trace?correlation=`
            event_id=event["id"],
            outcome=outcome,
            **fields,
        )

    def _send(self, rule: Any, target: dict[str, Any], event: dict[str, Any], payload: str) -> str:
        """Hands the payload to the target; returns a short description, raises DeliveryError."""
        arn = aws.Arn.parse(target["Arn"])
        try:
            if arn.service == "lambda":
                try:
                    self._invoker.invoke(target["Arn"], json.loads(payload), source=f"rule {rule.name}")
                except FunctionNotFound as error:
                    raise DeliveryError(FunctionNotFound.code, str(error)) from None
                return f"lambda:{arn.name} (async)"
            if arn.service == "sqs":
                group = (target.get("SqsParameters") or {}).get("MessageGroupId")
                extra: dict[str, Any] = {}
                if group:
                    extra = {"group_id": group, "deduplication_id": event["id"]}
                aws.send_to_queue(target["Arn"], payload, **extra)
                return f"sqs:{arn.name}"
            if arn.service == "sns":
                aws.publish_to_topic(target["Arn"], payload)
                return f"sns:{arn.name}"
            if arn.service == "states":
                backend = aws.stepfunctions_backend(arn.account, arn.region)
                execution = backend.start_execution(
                    target["Arn"], name=str(uuid.uuid4()), execution_input=payload
                )
                return f"states:{arn.name} ({execution.execution_arn.rsplit(':', 1)[-1]})"
            if arn.service == "events" and arn.resource.startswith("event-bus/"):
                target_backend = aws.events_backend(arn.account, arn.region)
                if arn.name not in target_backend.event_buses:
                    raise DeliveryError("ResourceNotFoundException", f"Event bus {arn.name} does not exist.")
                self._scheduler.submit(lambda: self.route_event(target_backend, arn.name, dict(event)))
                return f"bus:{arn.name}"
            if arn.service == "logs":
                group = arn.resource.split(":", 1)[1].removesuffix(":*")
                logs = aws.logs_backend(arn.account, arn.region)
                stream = event["id"]
                logs.create_log_stream(group, stream)
                logs.put_log_events(
                    group, stream, [{"timestamp": int(time.time() * 1000), "message": payload}]
                )
                return f"logs:{group}"
        except DeliveryError:
            raise
        except Exception as error:
            raise DeliveryError(_error_code(error), str(error)) from None
        raise DeliveryError("UnsupportedTarget", f"localcloud cannot deliver to {arn.service} targets")


def _bus_name(name_or_arn: str | None) -> str:
    if not name_or_arn:
        return "default"
    return name_or_arn.split("/")[-1] if name_or_arn.startswith("arn:") else name_or_arn


def _entry_size(entry: dict[str, Any]) -> int:
    """PutEvents entry size as AWS computes it (eb-putevent-size)."""
    size = 14 if entry.get("Time") else 0
    size += len(entry["Source"].encode()) + len(entry["DetailType"].encode()) + len(entry["Detail"].encode())
    size += sum(len(r.encode()) for r in entry.get("Resources") or [])
    return size


def _error_code(error: Exception) -> str:
    # moto's errors carry the AWS error code in `error_type` (their `code` is the HTTP status).
    code = getattr(error, "error_type", None)
    name = type(error).__name__
    if "NotExist" in name or "NotFound" in name or (isinstance(code, str) and "NonExistent" in code):
        return "ResourceNotFoundException"
    return code if isinstance(code, str) and code else name
