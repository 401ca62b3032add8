"""The fault switch: faults set up as data (`POST /_localcloud/faults`), for tests of the unhappy paths.

A fault names what it hits and what happens there:
- `{"function": name or ARN}`: `error` (the invocation fails with `errorType`/`errorMessage`
  instead of running), `throttle` (TooManyRequestsException), `timeout` (Lambda's timeout answer);
- `{"queue": name, URL or ARN}`, `{"stream": table name or stream ARN}` or
  `{"rule": name, "target": id}`: `duplicate`, each batch or event is delivered twice;
- `{"rule": name, "target": id}`: `fail`, each delivery to the target fails with `errorCode` and
  `errorMessage` (retried by the target's RetryPolicy, then parked in its DLQ);
- `{"service": "events", "operation": "PutEvents"}`: `fail`, the entry fails with `errorCode`
  (default InternalFailure); `{"service": "cloudformation", "operation": "CreateStack"}`: `fail`,
  the stack is created CREATE_FAILED (reason `errorMessage`) and rolled back, as AWS does;
- `{"service": name, "operation": name or "*"}`: `latency`, `seconds` more before it is served.

`rate` (0 to 1, default 1) is the chance a matching call is hit; `times` (default: no limit) how
many calls at most. Every hit is a `fault` record in the trace.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from localcloud.core.trace import Trace

_TARGET_KEYS = ("function", "queue", "stream", "rule", "service")
_EFFECTS = {
    "function": {"error", "throttle", "timeout"},
    "queue": {"duplicate"},
    "stream": {"duplicate"},
    "rule": {"duplicate", "fail"},
    "service": {"fail", "latency"},
}

# What effect "fail" can hit: a PutEvents entry fails alone; a stack's creation fails (and rolls back).
_FAILING = {("events", "PutEvents"), ("cloudformation", "CreateStack")}


class InvalidFault(ValueError):
    """A fault the switch cannot set up; the message says why."""


@dataclass
class Fault:
    id: int
    kind: str  # which of _TARGET_KEYS it hits
    name: str  # the function, queue, stream, rule or service
    effect: str
    rate: float = 1.0
    times: int | None = None
    target: str | None = None  # a rule's target id
    operation: str = "*"
    error_type: str = "FaultInjected"
    error_message: str = "localcloud fault switch"
    error_code: str = "InternalFailure"
    seconds: float = 0.0
    hits: int = field(default=0)

    def describe(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


class Faults:
    """The faults set up now; each subsystem asks whether a call of its is hit."""

    def __init__(self, trace: Trace) -> None:
        self._trace = trace
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._random = random.Random()

    def add(self, specs: list[dict[str, Any]]) -> list[Fault]:
        """Validates every spec first: a bad one adds nothing and says why."""
        faults = [self._parse(spec) for spec in specs]
        with self._lock:
            for fault in faults:
                fault.id = next(self._ids)
            self._faults.extend(faults)
        for fault in faults:
            self._trace.emit("fault", f"fault {fault.id} set up: {_label(fault)}", fault=fault.describe())
        return faults

    def clear(self, fault_id: int | None = None) -> int:
        with self._lock:
            kept = [f for f in self._faults if fault_id is not None and f.id != fault_id]
            removed = len(self._faults) - len(kept)
            self._faults = kept
        self._trace.emit("fault", f"{removed} fault(s) cleared")
        return removed

    def listed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.describe() for fault in self._faults]

    @property
    def active(self) -> bool:
        """Any fault set up at all (read without the lock: a stale answer only delays a fault by a call)."""
        return bool(self._faults)

    # -- what the subsystems ask -------------------------------------------------------------------
    def for_function(self, name: str, arn: str) -> Fault | None:
        return self._hit("function", lambda f: f.name in (name, arn, _unqualified(arn)))

    def duplicates(self, kind: str, *names: str, target: str | None = None) -> bool:
        def hits(fault: Fault) -> bool:
            return fault.name in names and (fault.target is None or fault.target == target)

        return self._hit(kind, hits, effect="duplicate") is not None

    def failed_delivery(self, rule: str, target: str) -> Fault | None:
        def hits(fault: Fault) -> bool:
            return fault.name == rule and (fault.target is None or fault.target == target)

        return self._hit("rule", hits, effect="fail")

    def failed_entry(self, service: str, operation: str) -> Fault | None:
        return self._hit("service", lambda f: _operation(f, service, operation), effect="fail")

    def latency(self, service: str, operation: str) -> float:
        fault = self._hit("service", lambda f: _operation(f, service, operation), effect="latency")
        return fault.seconds if fault else 0.0

    def _hit(self, kind: str, matches: Any, effect: str | None = None) -> Fault | None:
        if not self._faults:  # the common case: nothing set up, nothing to pay
            return None
        with self._lock:
            for fault in self._faults:
                if fault.kind != kind or (effect and fault.effect != effect) or not matches(fault):
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                if fault.rate < 1 and self._random.random() >= fault.rate:
                    continue
                fault.hits += 1
                break
            else:
                return None
        self._trace.emit("fault", f"fault {fault.id}: {_label(fault)} (hit {fault.hits})", fault_id=fault.id)
        return fault

    # -- parsing ------------------------------------------------------------------------------------
    def _parse(self, spec: dict[str, Any]) -> Fault:
        if not isinstance(spec, dict):
            raise InvalidFault(f"a fault is a JSON object, not {spec!r}")
        kinds = [key for key in _TARGET_KEYS if key in spec]
        if len(kinds) != 1:
            raise InvalidFault(f"a fault names exactly one of {', '.join(_TARGET_KEYS)}: {spec}")
        kind = kinds[0]
        effect = spec.get("effect")
        if effect not in _EFFECTS[kind]:
            raise InvalidFault(f"a {kind} fault's effect is one of {sorted(_EFFECTS[kind])}, not {effect!r}")
        rate = float(spec.get("rate", 1.0))
        if not 0 < rate <= 1:
            raise InvalidFault(f"rate is a probability in (0, 1], not {rate}")
        times = spec.get("times")
        if times is not None and int(times) < 1:
            raise InvalidFault(f"times is at least 1, not {times}")
        if effect == "latency" and float(spec.get("seconds", 0)) <= 0:
            raise InvalidFault("a latency fault needs seconds > 0")
        if (
            kind == "service"
            and effect == "fail"
            and (spec.get("service"), spec.get("operation")) not in _FAILING
        ):
            raise InvalidFault(
                "only events PutEvents entries and cloudformation CreateStack can fail (effect fail)"
            )
        name = str(spec[kind])
        if kind == "queue" and "/" in name and not name.startswith("arn:"):
            name = name.rstrip("/").rsplit("/", 1)[-1]  # a queue URL ends with the queue's name
        return Fault(
            id=0,
            kind=kind,
            name=name,
            effect=str(effect),
            rate=rate,
            times=None if times is None else int(times),
            target=spec.get("target"),
            operation=str(spec.get("operation", "*")),
            error_type=str(spec.get("errorType", "FaultInjected")),
            error_message=str(spec.get("errorMessage", "localcloud fault switch")),
            error_code=str(spec.get("errorCode", "InternalFailure")),
            seconds=float(spec.get("seconds", 0)),
        )


def _operation(fault: Fault, service: str, operation: str) -> bool:
    return fault.name == service and fault.operation in ("*", operation)


def _unqualified(arn: str) -> str:
    return ":".join(arn.split(":")[:7])


def _label(fault: Fault) -> str:
    where = f"{fault.kind} {fault.name}" + (f"/{fault.target}" if fault.target else "")
    if fault.kind == "service":
        where += f" {fault.operation}"
    return f"{fault.effect} on {where}"
