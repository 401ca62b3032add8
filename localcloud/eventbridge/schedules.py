"""Scheduled rules: EventBridge rules with a ScheduleExpression fire on localcloud's clock.

On AWS a scheduled rule sends its targets an event from `aws.events` (detail-type `Scheduled
Event`, detail `{}`, the rule's ARN as the resource) at each time its expression names; a
DISABLED rule does not fire. Here a background tick (it keeps nobody from settling) looks at
every scheduled rule once a second; advancing the local clock fires what fell due at once, the
missed times of one rule coalesced into one firing. `fire()` fires a rule now, for tests.
Delivery is the engine's: retry policy, DLQ and input options as for any matched event.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from localcloud.core.backends import BACKENDS
from localcloud.core.clock import Clock
from localcloud.core.scheduler import Scheduler
from localcloud.core.trace import Trace
from localcloud.eventbridge.schedule_expressions import InvalidSchedule, Schedule, parse_schedule

if TYPE_CHECKING:
    from localcloud.eventbridge.engine import EventBridgeEngine

# How often the tick looks for due rules (real seconds; AWS fires within a minute of the time).
TICK_SECONDS = 1.0


class UnknownSchedule(LookupError):
    """No rule of that name on that bus, or the rule has no ScheduleExpression."""


class ScheduleDisabled(RuntimeError):
    """The rule is DISABLED: it does not fire."""


@dataclass
class _Timing:
    expression: str
    schedule: Schedule
    anchor: float  # when the rule was created (a rate counts from it)
    last: float  # the last time it fired (or the anchor)


class ScheduledRules:
    """Fires the scheduled rules of every events backend when their time comes."""

    def __init__(
        self,
        engine: EventBridgeEngine,
        *,
        clock: Clock,
        scheduler: Scheduler,
        trace: Trace,
        tick_seconds: float = TICK_SECONDS,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._scheduler = scheduler
        self._trace = trace
        self._tick_seconds = tick_seconds
        self._timings: dict[str, _Timing] = {}  # by rule ARN
        self._lock = threading.Lock()
        self._generation = 0
        self._running = False
        self._listening = False

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._running = True
        if not self._listening:
            self._clock.on_advance(self._on_clock_advance)
            self._listening = True
        self._submit_tick(generation)

    def stop(self) -> None:
        with self._lock:
            self._generation += 1  # the scheduled tick finds itself outdated
            self._running = False

    # -- what the engine and the routes ask ---------------------------------------------------
    def noticed(self, rule: Any) -> None:
        """PutRule stored `rule`: a new or changed expression counts from now."""
        expression = getattr(rule, "scheduled_expression", None)
        if expression:
            self._timing(rule.arn, expression, reset=True)

    def listed(self) -> list[dict[str, Any]]:
        """Every scheduled rule, its state and its next fire time."""
        listed = []
        for bus_name, rule in _scheduled_rules():
            timing = self._timing(rule.arn, rule.scheduled_expression)
            next_time = timing.schedule.next_after(timing.last, anchor=timing.anchor) if timing else None
            listed.append(
                {
                    "name": rule.name,
                    "bus": bus_name,
                    "arn": rule.arn,
                    "scheduleExpression": rule.scheduled_expression,
                    "state": rule.state,
                    "next": None if next_time is None or rule.state != "ENABLED" else _iso(next_time),
                }
            )
        return listed

    def fire(self, name: str, bus: str = "default") -> str:
        """Fires the scheduled rule `name` on `bus` now; returns the event's id."""
        for bus_name, rule in _scheduled_rules():
            if rule.name == name and bus_name == bus:
                if rule.state != "ENABLED":
                    raise ScheduleDisabled(f"rule {name} is {rule.state}")
                return self._fire(rule, self._clock.now(), why="fired through /_localcloud/schedules")
        raise UnknownSchedule(f"no scheduled rule {name} on bus {bus}")

    # -- the tick -----------------------------------------------------------------------------
    def _submit_tick(self, generation: int) -> None:
        self._scheduler.submit(
            lambda: self._tick(generation), delay=self._tick_seconds, name="schedules", background=True
        )

    def _tick(self, generation: int) -> None:
        if generation != self._generation:
            return
        try:
            self.fire_due()
        finally:
            if self._running and generation == self._generation:
                self._submit_tick(generation)

    def _on_clock_advance(self, _now: float) -> None:
        if self._running:
            self._scheduler.submit(self.fire_due, name="schedules (clock advanced)")

    def fire_due(self) -> None:
        """Fires every enabled scheduled rule whose next time has come (once, however many passed)."""
        now = self._clock.now()
        for _bus, rule in _scheduled_rules():
            timing = self._timing(rule.arn, rule.scheduled_expression)
            if timing is None or rule.state != "ENABLED":
                continue
            with self._lock:  # the tick and a clock advance may look at once: one of them fires
                due = timing.schedule.next_after(timing.last, anchor=timing.anchor)
                if due is None or due > now:
                    continue
                timing.last = now
            self._fire(rule, due, why=f"{rule.scheduled_expression} due")

    def _timing(self, arn: str, expression: str, *, reset: bool = False) -> _Timing | None:
        with self._lock:
            timing = self._timings.get(arn)
            if timing is not None and timing.expression == expression and not reset:
                return timing
            try:
                schedule = parse_schedule(expression)
            except InvalidSchedule:
                return None  # PutRule refuses these; a rule made otherwise never fires
            now = self._clock.now()
            timing = _Timing(expression, schedule, anchor=now, last=now)
            self._timings[arn] = timing
            return timing

    def _fire(self, rule: Any, when: float, *, why: str) -> str:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": rule.account_id,
            "time": _iso(when),
            "region": rule.region_name,
            "resources": [rule.arn],
            "detail": {},
        }
        self._trace.emit(
            "schedule", f"rule {rule.name} fired ({why}): event {event['id']}", rule=rule.name, event=event
        )
        self._engine.deliver_to_rule(rule, event)
        return str(event["id"])


def check_schedule(expression: str) -> None:
    """Raises AWS's ValidationException for a schedule expression PutRule refuses."""
    from moto.events.exceptions import ValidationException

    try:
        parse_schedule(expression)
    except InvalidSchedule:
        raise ValidationException("Parameter ScheduleExpression is not valid.") from None


def _scheduled_rules() -> list[tuple[str, Any]]:
    """(bus name, rule) for every rule with a ScheduleExpression, in every events backend there is."""
    from moto.events.models import events_backends

    found: list[tuple[str, Any]] = []
    with BACKENDS:
        # dict.values: look only at the backends that exist (indexing would create them).
        for accounts in dict.values(events_backends):
            for backend in dict.values(accounts):
                for bus in list(backend.event_buses.values()):
                    found.extend(
                        (bus.name, rule)
                        for rule in list(bus.rules.values())
                        if getattr(rule, "scheduled_expression", None)
                    )
    return found


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
