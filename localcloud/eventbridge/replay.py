"""EventBridge archives and replays as AWS runs them: a bounded archive per bus, StartReplay over a
window of event times, DescribeReplay's states, ListReplays and CancelReplay.

moto keeps the archives and replays as objects; it replays synchronously, ignores the window and
FilterArns, and re-archives nothing only by luck. Here a replay runs as one job of localcloud's
scheduler (so `/_localcloud/settle` waits for it), re-routes each archived event of the window, in
event-time order, through the engine's own matching to the destination bus's rules (only the
FilterArns rules when given), with a new id and the `replay-name` field as AWS adds it. The archive's
rule (moto's `Events-Archive-<name>`) requires `replay-name` to be absent, so nothing replayed is
archived again.
"""

from __future__ import annotations

import functools
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from localcloud.core.backends import BACKENDS
from localcloud.core.clock import Clock
from localcloud.core.patches import PatchSet
from localcloud.core.scheduler import Scheduler
from localcloud.core.trace import Trace

if TYPE_CHECKING:
    from localcloud.eventbridge.engine import EventBridgeEngine

# Events kept per archive: the oldest go first beyond this (AWS keeps everything for RetentionDays;
# a local run that puts more than this many events on one bus replays only the newest).
MAX_ARCHIVED_EVENTS = 50_000
REPLAY_NAME = re.compile(r"^[\.\-_A-Za-z0-9]{1,64}$")
BUS_ARN = re.compile(r"^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus/.+$")
RULE_ARN = re.compile(r"^arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:rule/(?:(?P<bus>[^/]+)/)?(?P<rule>[^/]+)$")
DAY_SECONDS = 86400


def keep(archive: Any, event: dict[str, Any]) -> None:
    """Keeps a copy of `event` in `archive` (its whole JSON; its time is the event's `time`)."""
    if not isinstance(archive.events, deque):  # moto starts the archive with a plain list
        archive.events = deque(archive.events, maxlen=MAX_ARCHIVED_EVENTS)
    archive.events.append(dict(event))


def event_time(event: dict[str, Any]) -> float | None:
    """The event's `time` as epoch seconds, None if it has none that parses."""
    try:
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError):
        return None


def in_window(archive: Any, start: float, end: float, *, now: float) -> list[tuple[float, dict[str, Any]]]:
    """The archived events with start <= time < end (EventEndTime is exclusive, as AWS states it), not
    older than the archive's retention, oldest first (ties in the order they were archived)."""
    days = int(archive.retention or 0)
    oldest = now - days * DAY_SECONDS if days > 0 else float("-inf")
    found = []
    for event in list(archive.events):
        when = event_time(event)
        if when is not None and start <= when < end and when >= oldest:
            found.append((when, event))
    found.sort(key=lambda pair: pair[0])  # stable: same-second events keep their archive order
    return found


@functools.cache
def _replay_type() -> type:
    from moto.events.models import Replay, ReplayState

    class LocalReplay(Replay):
        """moto's replay plus what DescribeReplay returns and localcloud's run needs."""

        def __init__(self, *args: Any, started: float, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.start_time = started
            self.last_replayed: float | None = None
            self.reason: str | None = None
            self.cancelled = threading.Event()
            self.states = ReplayState

        def describe_short(self) -> dict[str, Any]:
            short = dict(super().describe_short())
            short["EventLastReplayedTime"] = self.last_replayed
            short["StateReason"] = self.reason
            return {key: value for key, value in short.items() if value is not None}

        def describe(self) -> dict[str, Any]:
            return {key: value for key, value in super().describe().items() if value is not None}

    return LocalReplay


class Replays:
    """StartReplay, DescribeReplay, ListReplays and CancelReplay over the engine's routing."""

    def __init__(
        self, *, engine: EventBridgeEngine, clock: Clock, scheduler: Scheduler, trace: Trace
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._scheduler = scheduler
        self._trace = trace

    def patches(self) -> PatchSet:
        replays = self
        patches = PatchSet("eventbridge-replay")

        def start_replay(
            backend: Any,
            name: str,
            description: str,
            source_arn: str,
            start_time: Any,
            end_time: Any,
            destination: dict[str, Any],
        ) -> dict[str, Any]:
            return replays.start(backend, name, description, source_arn, start_time, end_time, destination)

        def list_replays(backend: Any, name_prefix: Any, source_arn: Any, state: Any) -> list[dict[str, Any]]:
            return replays.listed(backend, name_prefix, source_arn, state)

        def cancel_replay(backend: Any, name: str) -> dict[str, str]:
            return replays.cancel(backend, name)

        def updating(original: Callable[..., Any]) -> Callable[..., Any]:
            def update_archive(backend: Any, name: str, *args: Any, **kwargs: Any) -> Any:
                result = original(backend, name, *args, **kwargs)
                replays.archive_updated(backend, name)
                return result

            return update_archive

        patches.replace(
            "moto.events.models:EventsBackend.start_replay",
            start_replay,
            why="moto replays every archived event at once, ignoring the window and FilterArns; AWS "
            "replays the window in order, in the background, to the rules named",
        )
        patches.replace(
            "moto.events.models:EventsBackend.list_replays",
            list_replays,
            why="moto's State filter compares a string with its enum and never matches",
        )
        patches.replace(
            "moto.events.models:EventsBackend.cancel_replay",
            cancel_replay,
            why="moto cancels a completed replay; AWS refuses, and a running one stops between events",
        )
        patches.wrap(
            "moto.events.models:EventsBackend.update_archive",
            updating,
            why="moto changes the archive's pattern but not its rule's, so the archive keeps matching "
            "the old pattern",
        )
        return patches

    # -- the API ------------------------------------------------------------------------------
    def start(
        self,
        backend: Any,
        name: str,
        description: str | None,
        source_arn: str,
        start_time: Any,
        end_time: Any,
        destination: dict[str, Any],
    ) -> dict[str, Any]:
        from moto.events.exceptions import (
            ResourceAlreadyExistsException,
            ResourceNotFoundException,
            ValidationException,
        )

        if not isinstance(name, str) or not REPLAY_NAME.match(name):
            raise ValidationException(
                f"1 validation error detected: Value '{name}' at 'replayName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
            )
        bus_arn = (destination or {}).get("Arn") or ""
        if not BUS_ARN.match(bus_arn):
            raise ValidationException(
                "Parameter Destination.Arn is not valid. Reason: Must contain an event bus ARN."
            )
        bus = backend._get_event_bus(bus_arn)  # ResourceNotFoundException, as AWS, if it is gone
        archive_name = str(source_arn or "").split("/")[-1]
        archive = backend.archives.get(archive_name)
        if archive is None or archive.arn != source_arn:
            raise ResourceNotFoundException(f"Archive {archive_name} does not exist.")
        if bus_arn != archive.source_arn:
            raise ValidationException(
                "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted."
            )
        start, end = _seconds(start_time, "EventStartTime"), _seconds(end_time, "EventEndTime")
        if start >= end:
            raise ValidationException(
                "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime."
            )
        filters = list(destination.get("FilterArns") or [])
        for rule_arn in filters:
            if not _rule_on_bus(bus, rule_arn):
                raise ValidationException(
                    f"Parameter Destination.FilterArns is not valid. Reason: {rule_arn} is not the ARN "
                    f"of a rule on event bus {bus.name}."
                )
        if name in backend.replays:
            raise ResourceAlreadyExistsException(f"Replay {name} already exists.")

        replay = _replay_type()(
            backend.account_id,
            backend.region_name,
            name,
            description,
            source_arn,
            start,
            end,
            {"Arn": bus_arn, **({"FilterArns": filters} if filters else {})},
            started=self._clock.now(),
        )
        backend.replays[name] = replay
        self._trace.emit(
            "replay",
            f"replay {name}: STARTING, {archive.name} [{_iso(start)}, {_iso(end)}) -> bus {bus.name}"
            + (f" (rules {', '.join(f.rsplit('/', 1)[-1] for f in filters)})" if filters else ""),
            replay=name,
            state="STARTING",
        )
        self._scheduler.submit(lambda: self._run(backend, replay, archive, bus.name), name=f"replay {name}")
        return {"ReplayArn": replay.arn, "ReplayStartTime": replay.start_time, "State": "STARTING"}

    def listed(self, backend: Any, name_prefix: Any, source_arn: Any, state: Any) -> list[dict[str, Any]]:
        from moto.events.exceptions import ValidationException
        from moto.events.models import ReplayState

        if [name_prefix, source_arn, state].count(None) < 2:
            raise ValidationException(
                "At most one filter is allowed for ListReplays. "
                "Use either : State, EventSourceArn, or NamePrefix."
            )
        states = sorted(item.value for item in ReplayState)
        if state is not None and state not in states:
            raise ValidationException(
                f"1 validation error detected: Value '{state}' at 'state' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(states)}]"
            )
        return [
            replay.describe_short()
            for replay in backend.replays.values()
            if (name_prefix is None or replay.name.startswith(name_prefix))
            and (source_arn is None or replay.source_arn == source_arn)
            and (state is None or replay.state.value == state)
        ]

    def cancel(self, backend: Any, name: str) -> dict[str, str]:
        from moto.events.exceptions import IllegalStatusException
        from moto.events.models import ReplayState

        replay = backend._get_replay(name)  # ResourceNotFoundException if unknown
        if replay.state not in (ReplayState.STARTING, ReplayState.RUNNING):
            raise IllegalStatusException(f"Replay {name} is not in a valid state for this operation.")
        replay.state = ReplayState.CANCELLING
        cancelled = getattr(replay, "cancelled", None)
        if cancelled is not None:
            cancelled.set()  # the run stops before its next event and ends CANCELLED
        else:  # a replay moto made before localcloud's patches: nothing runs it
            replay.state = ReplayState.CANCELLED
        self._trace.emit("replay", f"replay {name}: CANCELLING", replay=name, state="CANCELLING")
        return {"ReplayArn": replay.arn, "State": ReplayState.CANCELLING.value}

    def archive_updated(self, backend: Any, name: str) -> None:
        """The archive's rule matches what the archive's pattern now says, and never a replayed event."""
        import json

        archive = backend.archives[name]
        if archive.rule is None:
            return
        pattern = json.loads(archive.event_pattern.dump() or "{}")
        pattern["replay-name"] = [{"exists": False}]
        archive.rule.event_pattern = type(archive.event_pattern).load(json.dumps(pattern))

    # -- the run ------------------------------------------------------------------------------
    def _run(self, backend: Any, replay: Any, archive: Any, bus_name: str) -> None:
        states = replay.states
        with BACKENDS:
            if replay.cancelled.is_set():
                self._finish(replay, states.CANCELLED, 0)
                return
            replay.state = states.RUNNING
            window = in_window(archive, replay.event_start_time, replay.event_end_time, now=self._clock.now())
        self._trace.emit(
            "replay",
            f"replay {replay.name}: RUNNING, {len(window)} event(s)",
            replay=replay.name,
            state="RUNNING",
        )
        rules = set(replay.destination.get("FilterArns") or []) or None
        done = 0
        try:
            for when, event in window:
                if replay.cancelled.is_set():
                    break
                replayed = {**event, "id": str(uuid.uuid4()), "replay-name": replay.name}
                self._engine.route_event(backend, bus_name, replayed, inline=True, rules=rules)
                replay.last_replayed = when
                done += 1
        except Exception as error:  # the replay ends FAILED, saying why; what was replayed stays replayed
            with BACKENDS:
                replay.reason = f"{type(error).__name__}: {error}"[:512]
                self._finish(replay, states.FAILED, done)
            return
        with BACKENDS:
            self._finish(replay, states.CANCELLED if replay.cancelled.is_set() else states.COMPLETED, done)

    def _finish(self, replay: Any, state: Any, done: int) -> None:
        replay.state = state
        replay.end_time = self._clock.now()
        self._trace.emit(
            "replay",
            f"replay {replay.name}: {state.value}, {done} event(s) replayed"
            + (f" ({replay.reason})" if replay.reason else ""),
            replay=replay.name,
            state=state.value,
            replayed=done,
        )


def _seconds(value: Any, field: str) -> float:
    """A timestamp as the JSON protocol sends it (epoch seconds), or an ISO string from a raw request."""
    from moto.events.exceptions import ValidationException

    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise ValidationException(f"Parameter {field} is not valid. Reason: {field} must be a timestamp.")


def _rule_on_bus(bus: Any, rule_arn: str) -> bool:
    match = RULE_ARN.match(rule_arn)
    if match is None or (match["bus"] or "default") != bus.name:
        return False
    rule = bus.rules.get(match["rule"])
    return rule is not None and rule.arn == rule_arn


def _iso(seconds: float) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
