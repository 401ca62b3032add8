"""The executions running now: counted, traced, waited for, and found without scanning every execution."""

from __future__ import annotations

import threading
from typing import Any

from localcloud.core.patches import PatchSet
from localcloud.core.trace import Trace

_TRACE_CAUSE_CHARS = 300
# A `.sync` task waits for its child in slices this long, to notice its own execution ending.
_WAIT_SLICE_SECONDS = 1.0


class Executions:
    """What the interpreter runs, kept as it starts and ends executions (not by listing them all)."""

    def __init__(self, trace: Trace) -> None:
        self._trace = trace
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Any, threading.Event]] = {}

    def count(self) -> int:
        with self._lock:
            return len(self._running)

    def running(self) -> list[Any]:
        with self._lock:
            return [execution for execution, _ in self._running.values()]

    def wait(self, execution_arn: str, timeout: float | None = None) -> bool:
        """Blocks until the execution ends (True), or `timeout` passes (False)."""
        with self._lock:
            entry = self._running.get(execution_arn)
        return True if entry is None else entry[1].wait(timeout)

    def started(self, execution: Any) -> None:
        with self._lock:
            self._running[execution.exec_arn] = (execution, threading.Event())
        machine = execution.state_machine.name
        self._trace.emit(
            "states",
            f"{machine} {execution.name} started ({_machine_type(execution)})",
            state_machine=machine,
            execution=execution.name,
            execution_arn=execution.exec_arn,
            status="RUNNING",
            input=execution.input_data,  # a reference: finds the flow an execution belongs to, on request
        )

    def ended(self, execution: Any) -> None:
        with self._lock:
            entry = self._running.pop(execution.exec_arn, None)
        machine = execution.state_machine.name
        status = execution.status
        message = f"{machine} {execution.name} {status}"
        if execution.error is not None or execution.cause is not None:
            cause = execution.cause or ""
            if len(cause) > _TRACE_CAUSE_CHARS:
                cause = cause[:_TRACE_CAUSE_CHARS] + "…"
            message += f": {execution.error} {cause}".rstrip()
        seconds = None
        if execution.stop_date is not None:
            seconds = round((execution.stop_date - execution.start_date).total_seconds(), 3)
        self._trace.emit(
            "states",
            message,
            state_machine=machine,
            execution=execution.name,
            execution_arn=execution.exec_arn,
            status=status,
            error=execution.error,
            cause=execution.cause,
            seconds=seconds,
        )
        if entry is not None:
            entry[1].set()

    def patches(self) -> PatchSet:
        from moto.stepfunctions.parser.api import ExecutionStatus

        patches = PatchSet("stepfunctions executions")
        executions = self

        def starting(original: Any) -> Any:
            def start(execution: Any) -> None:
                # Before the original: a SyncExecution runs to its end inside start().
                executions.started(execution)
                original(execution)

            return start

        def ending(original: Any) -> Any:
            def terminated(communication: Any) -> None:
                original(communication)
                executions.ended(communication.execution)

            return terminated

        def indexed(original: Any) -> Any:
            def _get_executions(backend: Any, execution_status: Any = None) -> Any:
                if execution_status != ExecutionStatus.RUNNING:
                    return original(backend, execution_status)
                mine = {machine.arn for machine in backend.state_machines}
                return [
                    e for e in executions.running() if e.state_machine.arn in mine and e.status == "RUNNING"
                ]

            return _get_executions

        def waiting(original: Any) -> Any:
            def build(task: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
                child = (
                    env.stack[-1].get("ExecutionArn")
                    if env.stack and isinstance(env.stack[-1], dict)
                    else None
                )
                resolve = original(task, env, *args, **kwargs)
                if child is None:
                    return resolve

                def resolver() -> Any:
                    # Wait for the child to end, then ask once, instead of asking every poll interval.
                    while env.is_running() and not executions.wait(child, _WAIT_SLICE_SECONDS):
                        pass
                    return resolve()

                return resolver

            return build

        execution = "moto.stepfunctions.parser.backend.execution"
        patches.wrap(f"{execution}:Execution.start", starting, why="the trace, and the count settle waits on")
        patches.wrap(
            f"{execution}:BaseExecutionWorkerCommunication.terminated",
            ending,
            why="the trace, the count, and whoever waits for the execution to end",
        )
        patches.wrap(
            "moto.stepfunctions.parser.models:StepFunctionsParserBackend._get_executions",
            indexed,
            why="SendTaskSuccess and SendTaskHeartbeat scan every execution ever run for the running "
            "ones: a cost that grew with every order",
        )
        sfn = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn"
        for name in ("_build_sync_resolver", "_build_sync2_resolver"):
            patches.wrap(
                f"{sfn}:StateTaskServiceSfn.{name}",
                waiting,
                why="a `.sync` parent polled DescribeExecution every interval while its child ran; it "
                "now waits for the child to end and describes it once",
            )
        return patches


def _machine_type(execution: Any) -> str:
    # moto's `sm_type` is always STANDARD; the type asked for at creation is in `type`.
    return str(getattr(execution.state_machine, "type", None) or execution.sm_type)
