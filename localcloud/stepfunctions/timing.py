"""Time in the interpreter: AWS's timeout and heartbeat rules, fast mode, and deadlines on the fair clock.

- AWS's rules: a missed heartbeat fails as States.HeartbeatTimeout (which States.Timeout also
  catches), a task with only HeartbeatSeconds keeps TimeoutSeconds 99999999, and every attempt of
  a callback task gets a new token.
- Fast mode: Wait states, Retry back-offs and `.sync` polling shrink by `settings.delay()`.
  Deadlines (TimeoutSeconds, HeartbeatSeconds) shrink the same way but never below a floor of real
  seconds: they race real work (a handler, a test sending the task token) that fast mode does not
  speed up.
- Fair time: task timeouts, heartbeats and execution timeouts are waited for on the fair clock
  (`FairClock`), which stands still while invocations wait in localcloud's own queue.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

from localcloud.core.clock import FairClock
from localcloud.core.patches import PatchSet

# AWS's TimeoutSeconds when a state names none; moto uses 60 when only HeartbeatSeconds is given.
AWS_DEFAULT_TIMEOUT_SECONDS = 99999999
_MOTO_HEARTBEAT_DEFAULT_TIMEOUT = 60
# How often a `.sync` task asks whether its child finished, when it cannot wait for it (moto: 0.5 s).
SYNC_POLL_SECONDS = 0.5
MIN_POLL_SECONDS = 0.01

_ASL = "moto.stepfunctions.parser.asl"
_STATE_EXEC = f"{_ASL}.component.state.exec"
_SERVICE = f"{_STATE_EXEC}.state_task.service"


class Deadlines:
    """How this localcloud turns AWS's waits and deadlines into real seconds."""

    def __init__(self, *, fast: bool, delay: Callable[[float], float], min_task: float, min_execution: float):
        self.fast = fast
        self.delay = delay
        self.min_task = min_task
        self.min_execution = min_execution

    def task(self, seconds: float) -> float:
        """A task's TimeoutSeconds or HeartbeatSeconds, as enforced here."""
        if not self.fast:
            return seconds
        return max(self.delay(seconds), min(seconds, self.min_task))

    def execution(self, seconds: float) -> float:
        """An execution's TimeoutSeconds: a safety net over all its work, with a higher floor."""
        if not self.fast:
            return seconds
        return max(self.delay(seconds), min(seconds, self.min_execution))

    def poll_interval(self) -> float:
        return max(self.delay(SYNC_POLL_SECONDS), MIN_POLL_SECONDS)


def fair_threading(fair: FairClock, *, join_deadline: Callable[[float], float] | None = None) -> Any:
    """Stands in for the `threading` module where a wait is a deadline: it counts on the fair clock."""

    class FairEvent(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            if timeout is None:
                return super().wait()
            until = fair.now() + timeout
            while True:
                remaining = until - fair.now()
                if remaining <= 0:
                    return self.is_set()
                # Real time passes at least as fast as the fair clock: this never wakes too early.
                if super().wait(remaining):
                    return True

    class FairThread(threading.Thread):
        def join(self, timeout: float | None = None) -> None:
            if timeout is None:
                super().join()
                return
            until = fair.now() + (join_deadline(timeout) if join_deadline else timeout)
            while self.is_alive():
                remaining = until - fair.now()
                if remaining <= 0:
                    return
                super().join(remaining)

    class Shim:
        Event = FairEvent
        Thread = FairThread

        def __getattr__(self, name: str) -> Any:
            return getattr(threading, name)

    return Shim()


class _ScaledSleep:
    """Stands in for the `time` module where only `sleep` should follow localcloud's clock."""

    def __init__(self, scale: Callable[[float], float]) -> None:
        self._scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(self._scale(seconds))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def timing_patches(deadlines: Deadlines, fair: FairClock) -> PatchSet:
    patches = PatchSet("stepfunctions timing")
    _aws_rules(patches)
    _fast_mode(patches, deadlines)
    fair_module = fair_threading(fair)
    patches.replace(
        f"{_STATE_EXEC}.execute_state:threading",
        fair_module,
        why="a task's TimeoutSeconds counts while its work runs, not while it waits in localcloud's queue",
    )
    patches.replace(
        f"{_ASL}.eval.callback.callback:Event",
        fair_module.Event,
        why="HeartbeatSeconds and callback waits count on the fair clock too",
    )
    patches.replace(
        f"{_ASL}.component.program.program:threading",
        fair_threading(fair, join_deadline=deadlines.execution),
        why="an execution's TimeoutSeconds: scaled in fast mode (with its floor) and on the fair clock",
    )
    return patches


def _aws_rules(patches: PatchSet) -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import HeartbeatTimeoutError

    heartbeat_name = StatesErrorName(typ=StatesErrorNameType.StatesHeartbeatTimeout)
    timeout_name = StatesErrorName(typ=StatesErrorNameType.StatesTimeout)

    def naming_heartbeats(original: Any) -> Any:
        def _from_error(task: Any, env: Any, ex: Exception) -> Any:
            event = original(task, env, ex)
            if not isinstance(ex, HeartbeatTimeoutError):
                return event
            details: Any = {
                key: {**value, "error": heartbeat_name.error_name}
                for key, value in (event.event_details or {}).items()
            }
            return FailureEvent(
                env=env, error_name=heartbeat_name, event_type=event.event_type, event_details=details
            )

        return _from_error

    def default_timeout(original: Any) -> Any:
        def from_state_props(state: Any, state_props: Any) -> None:
            original(state, state_props)
            timeout = state.timeout
            if (
                state.heartbeat is not None
                and isinstance(timeout, TimeoutSeconds)
                and timeout.is_default
                and timeout.timeout_seconds == _MOTO_HEARTBEAT_DEFAULT_TIMEOUT
            ):
                state.timeout = TimeoutSeconds(timeout_seconds=AWS_DEFAULT_TIMEOUT_SECONDS)

        return from_state_props

    def timeout_catches_heartbeat(original: Any) -> Any:
        def _eval_body(decl: Any, env: Any) -> None:
            error_name = env.stack[-1]
            original(decl, env)
            if not env.stack[-1] and error_name == heartbeat_name and timeout_name in decl.error_names:
                env.stack[-1] = True

        return _eval_body

    def token_per_attempt(_original: Any) -> Any:
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
            StateTaskService,
        )

        def _eval_execution(task: Any, env: Any) -> None:
            context = env.states.context_object
            if (
                task._is_integration_pattern()
                and ResourceCondition.WaitForTaskToken in task._supported_integration_patterns
                and context.context_object_data.get("State", {}).get("RetryCount", 0) > 0
            ):
                env.callback_pool_manager.add(context.update_task_token())
            StateTaskService._eval_execution(task, env)

        return _eval_execution

    patches.wrap(
        f"{_STATE_EXEC}.state_task.state_task:StateTask._from_error",
        naming_heartbeats,
        why="moto reports every TimeoutError as States.Timeout; AWS names a missed heartbeat "
        "States.HeartbeatTimeout",
    )
    patches.wrap(
        f"{_STATE_EXEC}.execute_state:ExecutionState.from_state_props",
        default_timeout,
        why="AWS's TimeoutSeconds defaults to 99999999 with or without HeartbeatSeconds; moto's 60 would "
        "end a payment wait with a 5-minute heartbeat after one minute",
    )
    patches.wrap(
        f"{_ASL}.component.common.error_name.error_equals_decl:ErrorEqualsDecl._eval_body",
        timeout_catches_heartbeat,
        why="States.Timeout also matches a missed heartbeat (AWS's error names reference)",
    )
    patches.wrap(
        f"{_SERVICE}.state_task_service_callback:StateTaskServiceCallback._eval_execution",
        token_per_attempt,
        why="moto makes a task's token once per state: the endpoint the first attempt ended answers "
        "every retry at once; AWS gives each attempt a new token",
    )


def _fast_mode(patches: PatchSet, deadlines: Deadlines) -> None:
    def scaled_wait(_original: Any) -> Any:
        def _wait_interval(function: Any, env: Any, wait_seconds: float) -> None:
            # Waits on the program's state event, as moto does, so StopExecution, an execution
            # timeout or a failed sibling branch ends the Wait at once.
            until = time.monotonic() + deadlines.delay(max(wait_seconds, 0))
            while env.is_running():
                remaining = until - time.monotonic()
                if remaining <= 0:
                    return
                env.program_state_event.wait(remaining)

        return _wait_interval

    def scaled_deadline(original: Any) -> Any:
        def _eval_body(timeout: Any, env: Any) -> None:
            original(timeout, env)
            env.stack[-1] = deadlines.task(env.stack[-1])

        return _eval_body

    def utc_timestamp(original: Any) -> Any:
        def _get_wait_seconds(function: Any, env: Any) -> int:
            # moto subtracts the host's naive local now() from the naive UTC timestamp: off by the
            # host's UTC offset wherever TZ is not UTC.
            offset = dt.datetime.now().astimezone().utcoffset() or dt.timedelta()
            return int(original(function, env)) + int(offset.total_seconds())

        return _get_wait_seconds

    wait = f"{_ASL}.component.state.wait.wait_function"
    patches.wrap(
        f"{wait}.wait_function:WaitFunction._wait_interval", scaled_wait, why="fast mode: Wait states"
    )
    patches.wrap(
        f"{wait}.timestamp:Timestamp._get_wait_seconds", utc_timestamp, why="Wait until a UTC timestamp"
    )
    timeouts = f"{_ASL}.component.common.timeouts"
    patches.wrap(
        f"{timeouts}.timeout:Timeout._eval_body", scaled_deadline, why="fast mode: task TimeoutSeconds"
    )
    patches.wrap(
        f"{timeouts}.heartbeat:Heartbeat._eval_body", scaled_deadline, why="fast mode: HeartbeatSeconds"
    )
    patches.replace(
        f"{_ASL}.component.common.retry.retrier_decl:time",
        _ScaledSleep(deadlines.delay),
        why="fast mode: Retry back-offs (the retrier's only use of `time` is its sleep)",
    )
    patches.replace(
        f"{_SERVICE}.state_task_service_callback:_DELAY_SECONDS_SYNC_CONDITION_CHECK",
        deadlines.poll_interval(),
        why="fast mode: `.sync` polling, where it still polls",
    )
