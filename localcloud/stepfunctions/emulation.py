"""Step Functions for localcloud: moto's ASL interpreter mended, with compressed time and a trace."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from localcloud.core import Settings, Trace

# How often a `.sync` task asks whether its child execution finished (moto polls every 0.5 s).
SYNC_POLL_SECONDS = 0.5
# Fast mode never polls more often than this: each poll is a DescribeExecution through moto.
MIN_POLL_SECONDS = 0.01
# AWS's TimeoutSeconds when a state names none; moto uses 60 when only HeartbeatSeconds is given.
AWS_DEFAULT_TIMEOUT_SECONDS = 99999999
# ASL reads the missing TimeoutSeconds of a heartbeat task as 60; moto marks that value is_default.
_MOTO_HEARTBEAT_DEFAULT_TIMEOUT = 60
# aws-sdk integration service names whose boto3 name differs (besides sfn, which moto maps).
AWS_SDK_SERVICE_NAMES = {
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
    "cognitoidentityprovider": "cognito-idp",
    "iotdataplane": "iot-data",
}
SYNC_URL_BASE = r"https?://sync-states\.(.+)\.amazonaws.com"
# StartSyncExecution checks an in-memory status: cheap, so often.
SYNC_EXECUTION_POLL_SECONDS = 0.005
_TRACE_CAUSE_CHARS = 300

_ACTIVE_LOCK = threading.Lock()
_ACTIVE: StepFunctionsEmulation | None = None


class StepFunctionsEmulation:
    """Patches moto's ASL interpreter so the app's workflows run as they do on AWS.

    - Service integrations get their parameters and results in AWS's shape (the normalisation
      moto's port of the interpreter left out): nested executions (`states:startExecution`,
      `.sync`, `.sync:2`) work, and so does every other integration whose API is not PascalCase.
    - StartExecution without a name gets a UUID (moto names it "None"), SendTaskFailure keeps its
      cause, StartSyncExecution runs EXPRESS state machines, heartbeat timeouts fail as
      States.HeartbeatTimeout, and a task with only HeartbeatSeconds keeps AWS's TimeoutSeconds.
    - Fast mode (`settings.fast`): Wait states, Retry back-offs and `.sync` polling shrink by
      `settings.delay()`. Deadlines (state and execution TimeoutSeconds, HeartbeatSeconds) shrink
      the same way but never below `min_deadline` real seconds (or the deadline itself, if
      shorter): they race real work (a Lambda handler, a test sending the task token), which
      fast mode does not speed up.
    - Every execution start and end goes to the trace (kind "states").

    In server mode the interpreter's own AWS calls go to `settings.port` on localhost.
    One emulation is installed at a time; `uninstall()` restores moto.
    """

    def __init__(
        self,
        settings: Settings,
        trace: Trace,
        *,
        min_deadline: float = 1.0,
        min_execution_deadline: float | None = None,
    ) -> None:
        self.settings = settings
        self.trace = trace
        self.min_deadline = min_deadline
        # An execution's TimeoutSeconds is a safety net over all its work, which fast mode does not
        # speed up as much as it shrinks waits: it may need a higher floor than a task's deadline.
        self.min_execution_deadline = (
            min_deadline if min_execution_deadline is None else min_execution_deadline
        )
        self._originals: list[tuple[Any, str, Any]] = []

    # -- time ---------------------------------------------------------------------------------
    def delay(self, seconds: float) -> float:
        """A wait or back-off AWS would do, as this localcloud does it."""
        return self.settings.delay(seconds)

    def execution_deadline(self, seconds: float) -> float:
        return max(self.settings.delay(seconds), min(seconds, self.min_execution_deadline))

    def deadline(self, seconds: float) -> float:
        """A timeout AWS would enforce, as this localcloud enforces it."""
        if not self.settings.fast:
            return seconds
        return max(self.settings.delay(seconds), min(seconds, self.min_deadline))

    def poll_interval(self) -> float:
        return max(self.delay(SYNC_POLL_SECONDS), MIN_POLL_SECONDS)

    # -- installation -------------------------------------------------------------------------
    @property
    def installed(self) -> bool:
        return _ACTIVE is self

    def install(self) -> None:
        global _ACTIVE
        with _ACTIVE_LOCK:
            if _ACTIVE is self:
                return
            if _ACTIVE is not None:
                raise RuntimeError("another StepFunctionsEmulation is installed; uninstall it first")
            try:
                self._install_patches()
            except BaseException:
                self._restore()
                raise
            _ACTIVE = self

    def uninstall(self) -> None:
        global _ACTIVE
        with _ACTIVE_LOCK:
            if _ACTIVE is not self:
                return
            self._restore()
            _ACTIVE = None

    @contextmanager
    def installed_in(self) -> Iterator[StepFunctionsEmulation]:
        """`with emulation.installed_in(): ...` installs for the block."""
        self.install()
        try:
            yield self
        finally:
            self.uninstall()

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        self._originals.append((owner, name, vars(owner).get(name, _MISSING)))
        setattr(owner, name, value)

    def _restore(self) -> None:
        while self._originals:
            owner, name, original = self._originals.pop()
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)

    def _install_patches(self) -> None:
        self._patch_integration_shapes()
        self._patch_api()
        self._patch_timeouts()
        self._patch_fast_mode()
        self._patch_trace()
        self._patch_endpoint()

    # -- 1. integration parameters and results in AWS's shape ---------------------------------
    def _patch_integration_shapes(self) -> None:
        # The root cause of "States.Runtime 'StateMachineArn'": StateTaskService's
        # _normalise_parameters/_normalise_response are no-ops in moto (LocalStack drives them from
        # botocore's service model; the port dropped that), so the ASL's PascalCase names reach
        # boto3 unchanged. Step Functions' API is camelCase (stateMachineArn, input), botocore's
        # serializer, run with parameter validation off, fails on the unknown key, and the
        # `.sync` resolvers look for "ExecutionArn" in a camelCase result. Restoring the
        # shape-driven normalisation in the base class fixes every integration at once.
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
            StateTaskService,
        )

        def _normalise_parameters(
            task: Any,
            parameters: dict[str, Any],
            boto_service_name: str | None = None,
            service_action_name: str | None = None,
        ) -> None:
            operation = _operation_model(
                task._get_boto_service_name(boto_service_name=boto_service_name),
                task._get_boto_service_action(service_action_name=service_action_name),
            )
            if operation is not None and operation.input_shape is not None:
                to_boto_request(parameters, operation.input_shape)

        def _normalise_response(
            task: Any,
            response: Any,
            boto_service_name: str | None = None,
            service_action_name: str | None = None,
        ) -> None:
            operation = _operation_model(
                task._get_boto_service_name(boto_service_name=boto_service_name),
                task._get_boto_service_action(service_action_name=service_action_name),
            )
            if operation is not None and operation.output_shape is not None:
                # Optimised integrations give dates as epoch milliseconds; aws-sdk ones keep moto's.
                epoch_millis = task.resource.service_name != "aws-sdk"
                from_boto_response(response, operation.output_shape, epoch_millis=epoch_millis)

        self._patch(StateTaskService, "_normalise_parameters", _normalise_parameters)
        self._patch(StateTaskService, "_normalise_response", _normalise_response)
        # aws-sdk ARNs name services as the AWS SDK for Java does; moto maps only sfn and states.
        self._patch(
            StateTaskService,
            "_SERVICE_NAME_SFN_TO_BOTO_OVERRIDES",
            {**StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES, **AWS_SDK_SERVICE_NAMES},
        )

    # -- 2. API gaps: nameless executions, SendTaskFailure's cause, StartSyncExecution --------
    def _patch_api(self) -> None:
        from moto import backend_index
        from moto.stepfunctions import urls as stepfunctions_urls
        from moto.stepfunctions.parser.backend.execution import Execution as ParserExecution
        from moto.stepfunctions.parser.models import StepFunctionsParserBackend
        from moto.stepfunctions.responses import StepFunctionResponse

        original_start: Any = StepFunctionsParserBackend.start_execution

        def start_execution(
            backend: Any,
            state_machine_arn: str,
            name: str | None = None,
            execution_input: str | None = None,
            trace_header: str | None = None,
        ) -> Any:
            # AWS names a nameless execution with a UUID; moto names it "None", so the second
            # nameless start of a state machine fails with ExecutionAlreadyExists.
            return original_start(
                backend, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
            )

        def send_task_failure(response: Any) -> Any:
            from moto.core.responses import EmptyResult

            # moto's handler drops `cause`.
            response.stepfunction_backend.send_task_failure(
                response._get_param("taskToken"),
                error=response._get_param("error"),
                cause=response._get_param("cause"),
            )
            return EmptyResult()

        original_describe: Any = StepFunctionResponse.describe_execution

        def describe_execution(response: Any) -> Any:
            result = original_describe(response)
            execution = response.stepfunction_backend.describe_execution(response._get_param("executionArn"))
            if isinstance(execution, ParserExecution):
                _mend_describe_execution(result.result, execution)
            return result

        self._patch(StepFunctionsParserBackend, "start_execution", start_execution)
        self._patch(StepFunctionResponse, "send_task_failure", send_task_failure)
        self._patch(StepFunctionResponse, "describe_execution", describe_execution)
        # moto has no StartSyncExecution (404 "Not yet implemented"), nor routes its host:
        # botocore sends it to sync-states.<region>.amazonaws.com (the operation's hostPrefix).
        self._patch(StepFunctionResponse, "start_sync_execution", _start_sync_execution)
        self._patch(stepfunctions_urls, "url_bases", [*stepfunctions_urls.url_bases, SYNC_URL_BASE])
        self._patch(
            backend_index,
            "backend_url_patterns",
            [*backend_index.backend_url_patterns, ("stepfunctions", re.compile(SYNC_URL_BASE))],
        )

    # -- 3. tokens and timeouts: a token per attempt, HeartbeatTimeout, default TimeoutSeconds --
    def _patch_timeouts(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
            ErrorEqualsDecl,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
            StatesErrorName,
        )
        from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
            StatesErrorNameType,
        )
        from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
        from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_callback,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
            ResourceCondition,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
            StateTaskService,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
        from moto.stepfunctions.parser.asl.eval.callback.callback import HeartbeatTimeoutError

        heartbeat_name = StatesErrorName(typ=StatesErrorNameType.StatesHeartbeatTimeout)
        timeout_name = StatesErrorName(typ=StatesErrorNameType.StatesTimeout)
        original_from_error: Any = StateTask._from_error
        original_from_state_props = ExecutionState.from_state_props
        original_error_equals = ErrorEqualsDecl._eval_body

        def _from_error(task: Any, env: Any, ex: Exception) -> Any:
            # moto reports every TimeoutError as States.Timeout; AWS names a missed heartbeat
            # States.HeartbeatTimeout.
            event = original_from_error(task, env, ex)
            if not isinstance(ex, HeartbeatTimeoutError):
                return event
            details: Any = {
                key: {**value, "error": heartbeat_name.error_name}
                for key, value in (event.event_details or {}).items()
            }
            return FailureEvent(
                env=env, error_name=heartbeat_name, event_type=event.event_type, event_details=details
            )

        def from_state_props(state: Any, state_props: Any) -> None:
            original_from_state_props(state, state_props)
            timeout = state.timeout
            # AWS's TimeoutSeconds defaults to 99999999 with or without HeartbeatSeconds; moto's 60
            # would end a payment wait with a 5-minute heartbeat after one minute.
            if (
                state.heartbeat is not None
                and isinstance(timeout, TimeoutSeconds)
                and timeout.is_default
                and timeout.timeout_seconds == _MOTO_HEARTBEAT_DEFAULT_TIMEOUT
            ):
                state.timeout = TimeoutSeconds(timeout_seconds=AWS_DEFAULT_TIMEOUT_SECONDS)

        def error_equals(decl: Any, env: Any) -> None:
            error_name = env.stack[-1]
            original_error_equals(decl, env)
            # States.Timeout also matches a missed heartbeat (AWS's error names reference).
            if not env.stack[-1] and error_name == heartbeat_name and timeout_name in decl.error_names:
                env.stack[-1] = True

        def eval_execution(task: Any, env: Any) -> None:
            # moto makes a task's token (and its callback endpoint) once per state, not per
            # attempt: the endpoint the first attempt ended by interrupting answers every retry at
            # once (a `.sync` retry "times out", a waitForTaskToken retry repeats the old outcome).
            # AWS gives each attempt a new token.
            context = env.states.context_object
            if (
                task._is_integration_pattern()
                and ResourceCondition.WaitForTaskToken in task._supported_integration_patterns
                and context.context_object_data.get("State", {}).get("RetryCount", 0) > 0
            ):
                env.callback_pool_manager.add(context.update_task_token())
            StateTaskService._eval_execution(task, env)

        self._patch(state_task_service_callback.StateTaskServiceCallback, "_eval_execution", eval_execution)
        self._patch(StateTask, "_from_error", _from_error)
        self._patch(ExecutionState, "from_state_props", from_state_props)
        self._patch(ErrorEqualsDecl, "_eval_body", error_equals)

    # -- 4. fast mode -------------------------------------------------------------------------
    def _patch_fast_mode(self) -> None:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.common.timeouts.heartbeat import Heartbeat
        from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import Timeout, TimeoutSeconds
        from moto.stepfunctions.parser.asl.component.program.program import Program
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service_callback,
        )
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
            WaitFunction,
        )

        emulation = self
        original_timeout = Timeout._eval_body
        original_heartbeat = Heartbeat._eval_body
        original_program_eval = Program.eval

        def wait_interval(function: Any, env: Any, wait_seconds: float) -> None:
            # Waits on the program's state event, as moto does, so StopExecution, an execution
            # timeout or a failed sibling branch ends the Wait at once.
            until = time.monotonic() + emulation.delay(max(wait_seconds, 0))
            while env.is_running():
                remaining = until - time.monotonic()
                if remaining <= 0:
                    return
                env.program_state_event.wait(remaining)

        def timeout_body(timeout: Any, env: Any) -> None:
            original_timeout(timeout, env)
            env.stack[-1] = emulation.deadline(env.stack[-1])

        def heartbeat_body(heartbeat: Any, env: Any) -> None:
            original_heartbeat(heartbeat, env)
            env.stack[-1] = emulation.deadline(env.stack[-1])

        def program_eval(program: Any, env: Any) -> None:
            # Program.eval reads TimeoutSeconds' attribute directly: lend it a scaled one.
            declared = program.timeout_seconds
            if declared is None or not emulation.settings.fast:
                original_program_eval(program, env)
                return
            program.timeout_seconds = TimeoutSeconds(
                timeout_seconds=emulation.execution_deadline(declared.timeout_seconds)  # type: ignore[arg-type]
            )
            try:
                original_program_eval(program, env)
            finally:
                program.timeout_seconds = declared

        original_timestamp_wait = Timestamp._get_wait_seconds

        def timestamp_wait_seconds(function: Any, env: Any) -> int:
            # moto subtracts the host's naive local now() from the naive UTC timestamp: off by the
            # host's UTC offset wherever TZ is not UTC.
            offset = dt.datetime.now().astimezone().utcoffset() or dt.timedelta()
            return int(original_timestamp_wait(function, env)) + int(offset.total_seconds())

        self._patch(Timestamp, "_get_wait_seconds", timestamp_wait_seconds)
        self._patch(WaitFunction, "_wait_interval", wait_interval)
        self._patch(Timeout, "_eval_body", timeout_body)
        self._patch(Heartbeat, "_eval_body", heartbeat_body)
        self._patch(Program, "eval", program_eval)
        # The retrier's only use of `time` is its back-off sleep.
        self._patch(retrier_decl, "time", _ScaledSleep(self.delay))
        # The `.sync` poll interval is a module constant read at each poll.
        self._patch(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", self.poll_interval())

    # -- 5. trace -----------------------------------------------------------------------------
    def _patch_trace(self) -> None:
        from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

        emulation = self
        original_start = Execution.start
        original_terminated = BaseExecutionWorkerCommunication.terminated

        def start(execution: Any) -> None:
            # Before the original: a SyncExecution runs to its end inside start().
            emulation._trace_start(execution)
            original_start(execution)

        def terminated(communication: Any) -> None:
            original_terminated(communication)
            emulation._trace_end(communication.execution)

        self._patch(Execution, "start", start)
        self._patch(BaseExecutionWorkerCommunication, "terminated", terminated)

    def _trace_start(self, execution: Any) -> None:
        machine = execution.state_machine.name
        self.trace.emit(
            "states",
            f"{machine} {execution.name} started ({_machine_type(execution)})",
            state_machine=machine,
            execution=execution.name,
            execution_arn=execution.exec_arn,
            status="RUNNING",
        )

    def _trace_end(self, execution: Any) -> None:
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
        self.trace.emit(
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

    # -- 6. server mode: where the interpreter's AWS calls go ---------------------------------
    def _patch_endpoint(self) -> None:
        from moto.stepfunctions.parser.asl.utils import boto_client

        # Outside mock_aws the interpreter calls http://localhost:$MOTO_PORT (default 5000);
        # localcloud serves on settings.port.
        port = str(self.settings.port)
        self._patch(boto_client, "moto_server_port", lambda: port)
        # boto_client_for builds a new client for every task (~40 ms each) on boto3's default
        # session, which is not thread-safe while executions run in parallel threads.
        self._patch(boto_client, "boto3", _CLIENTS)


def _machine_type(execution: Any) -> str:
    # moto's `sm_type` is always STANDARD; the type asked for at creation is in `type`.
    return str(getattr(execution.state_machine, "type", None) or execution.sm_type)


class _Missing:
    """Marks a patched attribute moto did not have: uninstall deletes it."""


_MISSING = _Missing()


class _ScaledSleep:
    """Stands in for the `time` module where only `sleep` should follow localcloud's clock."""

    def __init__(self, scale: Callable[[float], float]) -> None:
        self._scale = scale

    def sleep(self, seconds: float) -> None:
        time.sleep(self._scale(seconds))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class _ClientCache:
    """Stands in for `boto3` in moto's boto_client_for: one client per service, region and endpoint.

    Clients are thread-safe once built; building them is not, so a lock guards it, on one session
    of its own. The interpreter's clients differ only in service, region and endpoint.
    """

    def __init__(self) -> None:
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None

    def client(self, *, service_name: str, region_name: str, **kwargs: Any) -> Any:
        import boto3

        key = (service_name, region_name, kwargs.get("endpoint_url"), kwargs.get("aws_access_key_id"))
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                if self._session is None:
                    self._session = boto3.session.Session()
                client = self._session.client(service_name=service_name, region_name=region_name, **kwargs)
                self._clients[key] = client
            return client


# Shared by every emulation: building clients is what the cache saves.
_CLIENTS = _ClientCache()


def active() -> StepFunctionsEmulation | None:
    """The installed emulation, if any."""
    return _ACTIVE


# -- StartSyncExecution ------------------------------------------------------------------------
def _start_sync_execution(response: Any) -> Any:
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    backend = response.stepfunction_backend
    if not isinstance(backend, StepFunctionsParserBackend):
        raise JsonRESTError(
            "UnsupportedOperation",
            "StartSyncExecution needs moto's ASL interpreter (stepfunctions.execute_state_machine)",
        )
    arn = response._get_param("stateMachineArn")
    machine = backend.describe_state_machine(arn)
    # moto keeps the type in `type`; its `sm_type`, which the interpreter is given, is always STANDARD.
    if getattr(machine, "type", "STANDARD") != "EXPRESS":
        raise JsonRESTError(
            "StateMachineTypeNotSupported", "This operation is not supported by this type of state machine"
        )
    execution = backend.start_execution(
        arn, response._get_param("name"), response._get_param("input", if_none="{}")
    )
    # The worker thread runs the execution; this request waits for it, as AWS's does.
    while execution.status == "RUNNING":
        time.sleep(SYNC_EXECUTION_POLL_SECONDS)
    return ActionResult(sync_execution_output(execution))


def _mend_describe_execution(described: dict[str, Any], execution: Any) -> None:
    """Corrects moto's DescribeExecution answer for an execution its interpreter ran."""
    # moto passes a string output through unencoded: an execution ending with "done" answers
    # `done`, not `"done"`, and a `.sync:2` parent fails parsing it.
    if "output" in described and isinstance(execution.output, str):
        described["output"] = json.dumps(execution.output)
    described.setdefault("inputDetails", {"included": True})
    # moto leaves out stopDate of a timed-out execution.
    if execution.stop_date is not None:
        described.setdefault("stopDate", execution.stop_date)


def sync_execution_output(execution: Any) -> dict[str, Any]:
    """StartSyncExecution's answer for a finished execution (camelCase, as the API has it)."""
    description = execution.to_describe_output()
    status = {"SUCCEEDED": "SUCCEEDED", "TIMED_OUT": "TIMED_OUT"}.get(execution.status, "FAILED")
    output: dict[str, Any] = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "startDate": execution.start_date,
        "stopDate": execution.stop_date or dt.datetime.now(tz=dt.UTC),
        "status": status,
        "input": description["input"],
        "inputDetails": {"included": True},
        # Express bills per 100 ms at the smallest memory size; nothing reads this locally.
        "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": 100},
    }
    if status == "SUCCEEDED":
        output["output"] = description["output"]
        output["outputDetails"] = {"included": True}
    if execution.error is not None:
        output["error"] = execution.error
    if execution.cause is not None:
        output["cause"] = execution.cause
    return output


# -- shape-driven normalisation ---------------------------------------------------------------
@functools.cache
def _botocore_session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@functools.cache
def _operation_model(service: str, action: str) -> Any:
    """botocore's model of `service`'s operation `action` (snake or camel case), or None."""
    from botocore.exceptions import UnknownServiceError

    try:
        service_model = _botocore_session().get_service_model(service)
    except UnknownServiceError:
        return None
    wanted = action.replace("_", "").lower()
    for name in service_model.operation_names:
        if name.lower() == wanted:
            return service_model.operation_model(name)
    return None


def _compact_json(value: Any) -> str:
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    return to_json_str(value, separators=(",", ":"))


def to_boto_request(parameters: dict[str, Any], shape: Any) -> None:
    """Renames the ASL's parameter names to the API's members and types values as the API wants.

    Step Functions accepts `StateMachineArn` for the API's `stateMachineArn`, so a name matches a
    member exactly or case-insensitively. A JSON value given for a string or blob member is
    serialized (Input, MessageBody, Detail, Message), as Step Functions does. Unknown names stay:
    botocore rejects them, as AWS does.
    """
    from botocore.model import StructureShape

    if not isinstance(shape, StructureShape) or not isinstance(parameters, dict):
        return
    members = shape.members
    by_lower = {name.lower(): name for name in members}
    for key in list(parameters):
        member = key if key in members else by_lower.get(key.lower())
        if member is None:
            continue
        parameters[member] = _to_boto_value(parameters.pop(key), members[member])


def _to_boto_value(value: Any, shape: Any) -> Any:
    from botocore.model import ListShape, MapShape, StructureShape

    if value is None:
        return value
    if isinstance(shape, StructureShape):
        to_boto_request(value, shape)
        return value
    if isinstance(shape, ListShape):
        return [_to_boto_value(item, shape.member) for item in value] if isinstance(value, list) else value
    if isinstance(shape, MapShape):
        if isinstance(value, dict):
            return {key: _to_boto_value(item, shape.value) for key, item in value.items()}
        return value
    if shape.type_name == "string" and not isinstance(value, str):
        return _compact_json(value)
    if shape.type_name == "blob" and not isinstance(value, bytes | bytearray):
        return (value if isinstance(value, str) else _compact_json(value)).encode("utf-8")
    return value


def from_boto_response(response: Any, shape: Any, *, epoch_millis: bool) -> None:
    """Renames the API's members in a result to Step Functions' PascalCase, in place.

    `executionArn` becomes `ExecutionArn`; acronyms stay (`MD5OfMessageBody`, `ETag`). Streaming
    bodies become strings; with `epoch_millis`, dates become epoch milliseconds.
    """
    from botocore.model import StructureShape

    if not isinstance(shape, StructureShape) or not isinstance(response, dict):
        return
    members = shape.members
    for key in list(response):
        if key not in members:
            continue
        value = _from_boto_value(response.pop(key), members[key], epoch_millis)
        response[key[:1].upper() + key[1:]] = value


def _from_boto_value(value: Any, shape: Any, epoch_millis: bool) -> Any:
    from botocore.model import ListShape, MapShape, StructureShape
    from botocore.response import StreamingBody

    if isinstance(value, StreamingBody):
        return value.read().decode("utf-8", errors="replace")
    if isinstance(shape, StructureShape):
        from_boto_response(value, shape, epoch_millis=epoch_millis)
        return value
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_from_boto_value(item, shape.member, epoch_millis) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: _from_boto_value(item, shape.value, epoch_millis) for key, item in value.items()}
    if epoch_millis and isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    return value
