"""In-process Lambda runtime for localcloud: runs deployed Python handlers inside the moto process.

How it works: `FunctionCode` maps a deployed function (moto's `LambdaFunction`) to the directory
holding its unzipped code asset. `InProcessRuntime.invoke` imports the handler from there (INIT,
once per execution environment), calls it with a Lambda-like context, captures what it prints or
logs, writes the log lines to moto's CloudWatch Logs backend and returns the AWS-shaped result.
`install(runtime)` patches moto so every invocation path of a registered function (Invoke API,
Event and DryRun invocations, SQS / DynamoDB / Kinesis / SNS / S3 / CloudWatch Logs triggers,
Step Functions tasks) runs the real handler; unregistered functions keep moto's behaviour.

Limits (chosen on purpose; Lambda gives each environment its own process, we share one):
- One invocation runs at a time in the whole process: os.environ, sys.modules, sys.path and the
  root logger are process-global. A process-wide gate serializes invocations; invocations that
  arrive while another runs wait for it.
- Nested invocations work: a handler that invokes another function (or writes to an SQS queue or
  a DynamoDB stream that triggers one) through boto3 nests inside its own invocation. In-process
  (`mock_aws`) the nested call runs on the same thread. Through HTTP (ThreadedMotoServer) the
  handler's botocore requests carry the header `x-localcloud-parent-request-id`; the server
  thread that serves such a request may run the nested invocation while the caller waits for it.
- A nested call made without that header (a thread the handler started itself, raw HTTP) cannot
  be told apart from an unrelated concurrent invocation, so it waits. It does not hang: when every
  running invocation is past its deadline plus `deadlock_grace_s`, the waiting invocation fails
  with errorType "Localcloud.RuntimeBusy" and a message naming the holder.
- Timeouts are enforced by raising an exception in the handler's thread
  (PyThreadState_SetAsyncExc). It lands at the next Python bytecode, so a handler blocked in C
  (time.sleep, a socket read) is interrupted only when that call returns, and it may land inside
  library code the handler was running. The result is AWS's timeout payload
  (errorType "Sandbox.Timedout", "Task timed out after N.NN seconds"), and the environment is
  discarded as Lambda does. INIT is limited to `init_timeout_s` (Lambda's 10 s).
- Isolation: each execution environment keeps its own modules from its code dir, its own
  boto3.DEFAULT_SESSION and its own root logger handlers/level. Modules from site-packages
  (boto3, powertools, pydantic) are shared, and so are named loggers and powertools' class-level
  state. The packages the Lambda runtime provides (RUNTIME_PROVIDED_PACKAGES) always come from
  the host, even when a code dir bundles them, so moto's botocore hooks keep working.
- os.environ during INIT and invocations holds the function's Variables and the variables Lambda
  sets (plus PATH, LANG, TZ=:UTC, AWS_ENDPOINT_URL, dummy credentials and the host's MOTO_*
  settings, which moto reads at call time); other host threads see that environment too while a
  handler runs. The working directory is not changed.
- Output written by threads the handler starts goes to the real stdout/stderr, not to the
  invocation's log. "Max Memory Used" is the process's peak RSS, not the function's.
- Not emulated: memory limits, layers, IAM, concurrency limits, Event retries and destinations,
  the exact Lambda runtime version (the host interpreter runs the code).
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import datetime as dt
import decimal
import importlib
import importlib.machinery
import json
import logging
import math
import os
import queue
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

__all__ = [
    "DUMMY_CREDENTIALS",
    "PARENT_REQUEST_HEADER",
    "RUNTIME_PROVIDED_PACKAGES",
    "FunctionCode",
    "InProcessRuntime",
    "InvocationResult",
    "LambdaContext",
    "install",
    "installed_runtime",
    "uninstall",
]

PARENT_REQUEST_HEADER = "x-localcloud-parent-request-id"
RUNTIME_PROVIDED_PACKAGES = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}
)
DUMMY_CREDENTIALS = ("testing", "testing", "testing")
INIT_TIMEOUT_SECONDS = 10.0
# AWS returns the last 4 KB of the execution log in X-Amz-Log-Result.
LOG_RESULT_TAIL_BYTES = 4096
UNHANDLED = "Unhandled"

_ANY = "*"
_NBSP = "\u00a0"
_RUNTIME_VERSION = f"python:{sys.version_info.major}.{sys.version_info.minor}.localcloud"
_THIS_FILE = os.path.abspath(__file__)
_LOG = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Registry of code directories
# --------------------------------------------------------------------------------------------


def _function_key(function_arn_or_name: str) -> tuple[str, str, str]:
    if function_arn_or_name.startswith("arn:"):
        # arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]
        parts = function_arn_or_name.split(":")
        if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
            raise ValueError(f"not a Lambda function ARN: {function_arn_or_name!r}")
        return parts[3], parts[4], parts[6]
    if not function_arn_or_name or ":" in function_arn_or_name:
        raise ValueError(f"expected a function name or a function ARN, got {function_arn_or_name!r}")
    return _ANY, _ANY, function_arn_or_name


class FunctionCode:
    """Maps deployed Lambda functions to the directories holding their unzipped code."""

    def __init__(self) -> None:
        self._dirs: dict[tuple[str, str, str], Path] = {}
        self._lock = threading.Lock()

    def register(self, function_arn_or_name: str, code_dir: Path | str) -> None:
        """Run a function (all versions; an ARN limits it to that region and account) from `code_dir`."""
        path = Path(code_dir).resolve()
        if not path.is_dir():
            raise NotADirectoryError(f"code dir of {function_arn_or_name} is not a directory: {path}")
        key = _function_key(function_arn_or_name)
        with self._lock:
            self._dirs[key] = path

    def unregister(self, function_arn_or_name: str) -> None:
        key = _function_key(function_arn_or_name)
        with self._lock:
            self._dirs.pop(key, None)

    def lookup(self, function: LambdaFunction) -> Path | None:
        """The code dir registered for `function`, an exact ARN registration winning over a name."""
        with self._lock:
            exact = self._dirs.get((function.region, function.account_id, function.function_name))
            if exact is not None:
                return exact
            return self._dirs.get((_ANY, _ANY, function.function_name))

    def clear(self) -> None:
        with self._lock:
            self._dirs.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._dirs)


# --------------------------------------------------------------------------------------------
# What a handler sees and what an invocation returns
# --------------------------------------------------------------------------------------------


class LambdaContext:
    """The `context` a handler receives, with the attributes of the AWS Python runtime's context."""

    def __init__(
        self,
        *,
        aws_request_id: str,
        function_name: str,
        function_version: str,
        invoked_function_arn: str,
        memory_limit_in_mb: str,
        log_group_name: str,
        log_stream_name: str,
        deadline: float,
    ) -> None:
        self.aws_request_id = aws_request_id
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = invoked_function_arn
        # A string, as in AWS: the Python runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.identity = SimpleNamespace(cognito_identity_id=None, cognito_identity_pool_id=None)
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        # Monotonic, so a host clock change does not move the deadline.
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def log(self, msg: Any) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(aws_request_id={self.aws_request_id!r}, function_name={self.function_name!r}, "
            f"function_version={self.function_version!r}, invoked_function_arn={self.invoked_function_arn!r})"
        )


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation: what AWS returns to the caller plus what it logs."""

    request_id: str
    payload: bytes
    function_error: str | None
    log_text: str
    duration_ms: float
    init_duration_ms: float | None = None
    timed_out: bool = False

    @property
    def errored(self) -> bool:
        return self.function_error is not None

    @property
    def cold_start(self) -> bool:
        return self.init_duration_ms is not None

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None


# --------------------------------------------------------------------------------------------
# Per-invocation state: captured log, timeout watchdog
# --------------------------------------------------------------------------------------------


class _LambdaTimeout(BaseException):
    """Raised in a handler's thread at its deadline; a BaseException so `except Exception` misses it."""


def _set_async_exc(thread_id: int, exc_type: type[BaseException] | None) -> None:
    # None clears a pending exception (the C API takes NULL for that; ctypes turns None into NULL).
    target = ctypes.py_object(exc_type) if exc_type is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)


class _LogBuffer:
    """An invocation's log events: stdout/stderr split into lines, logging records kept whole."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []
        self._partial: dict[str, str] = {}
        self._lock = threading.Lock()
        self._last_ms = 0

    def _append(self, message: str) -> None:
        if not message:
            return  # CloudWatch rejects empty events
        # CloudWatch wants events in chronological order within one PutLogEvents call.
        self._last_ms = max(self._last_ms, int(time.time() * 1000))
        self.events.append((self._last_ms, message))

    def add(self, message: str) -> None:
        with self._lock:
            self._append(message.rstrip("\n"))

    def write(self, stream: str, text: str) -> None:
        with self._lock:
            *lines, rest = (self._partial.get(stream, "") + text).split("\n")
            for line in lines:
                self._append(line.rstrip("\r"))
            self._partial[stream] = rest

    def flush(self) -> None:
        with self._lock:
            for stream, rest in list(self._partial.items()):
                self._append(rest.rstrip("\r"))
                self._partial[stream] = ""

    def text(self) -> str:
        with self._lock:
            return "\n".join(message for _, message in self.events)


class _Frame:
    """One invocation in progress: its identity, its log and the state the watchdog works on."""

    def __init__(self, request_id: str, function_name: str) -> None:
        self.request_id = request_id
        self.function_name = function_name
        self.thread_id = threading.get_ident()
        self.log = _LogBuffer()
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.armed = False
        self.phase_deadline = math.inf
        self.timed_out = False
        # Invocations nested on this same thread; the watchdog must not interrupt them for us.
        self.children = 0
        self.done = False

    def arm(self, limit_s: float) -> float:
        with self.lock:
            self.phase_deadline = time.monotonic() + limit_s
            self.armed = True
            self.wake.notify_all()
            return self.phase_deadline

    def disarm(self) -> None:
        with self.lock:
            self.armed = False
            if self.timed_out:
                # The watchdog fired; if the exception has not surfaced yet, it must not surface
                # later inside runtime code that restores process state.
                _set_async_exc(self.thread_id, None)

    def enter_child(self) -> None:
        with self.lock:
            if self.timed_out and self.armed:
                # Raise the pending timeout here, before any state is touched, not somewhere
                # inside the nested invocation's setup.
                _set_async_exc(self.thread_id, None)
                raise _LambdaTimeout
            self.children += 1

    def leave_child(self) -> None:
        with self.lock:
            self.children -= 1
            self.wake.notify_all()

    def finish(self) -> None:
        with self.lock:
            self.done = True
            self.wake.notify_all()

    def watch(self) -> None:
        """Watchdog loop: interrupt the handler's thread once its armed phase passes its deadline."""
        with self.lock:
            while not self.done:
                if self.armed and not self.timed_out:
                    now = time.monotonic()
                    if now < self.phase_deadline:
                        self.wake.wait(self.phase_deadline - now)
                    elif self.children:
                        # A nested invocation runs on this thread: interrupting now would time it
                        # out instead of us. Fire as soon as it returns.
                        self.wake.wait(0.02)
                    else:
                        self.timed_out = True
                        _set_async_exc(self.thread_id, _LambdaTimeout)
                else:
                    self.wake.wait()


_TLS = threading.local()


def _frames() -> list[_Frame]:
    frames: list[_Frame] | None = getattr(_TLS, "frames", None)
    if frames is None:
        frames = []
        _TLS.frames = frames
    return frames


def _current_frame() -> _Frame | None:
    frames = getattr(_TLS, "frames", None)
    return frames[-1] if frames else None


# --------------------------------------------------------------------------------------------
# The process-wide gate that serializes invocations
# --------------------------------------------------------------------------------------------


class _RuntimeBusy(Exception):
    def __init__(self, holder: _Frame) -> None:
        super().__init__(holder.request_id)
        self.holder = holder


class _Gate:
    """Lets one invocation chain run at a time; nested invocations of the running chain pass."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stack: list[_Frame] = []

    def enter(self, frame: _Frame, parent_request_id: str | None, grace_s: float) -> None:
        with self._cond:
            while self._stack and not self._may_nest(frame.thread_id, parent_request_id):
                expiry = self._expiry(grace_s)
                remaining = expiry - time.monotonic()
                if remaining <= 0:
                    raise _RuntimeBusy(self._stack[-1])
                self._cond.wait(min(remaining, 0.5))
            self._stack.append(frame)

    def _may_nest(self, thread_id: int, parent_request_id: str | None) -> bool:
        if self._stack[-1].thread_id == thread_id:
            return True  # same-thread nesting (in-process boto3 call from a handler)
        return parent_request_id is not None and any(f.request_id == parent_request_id for f in self._stack)

    def _expiry(self, grace_s: float) -> float:
        # While any running frame is between phases it is in runtime code that ends soon: wait.
        deadlines = [f.phase_deadline if f.armed else math.inf for f in self._stack]
        return max(deadlines) + grace_s

    def leave(self, frame: _Frame) -> None:
        with self._cond:
            if frame in self._stack:
                self._stack.remove(frame)
            self._cond.notify_all()

    @property
    def depth(self) -> int:
        with self._cond:
            return len(self._stack)


_GATE = _Gate()


# --------------------------------------------------------------------------------------------
# Output capture: stdout/stderr routers and the root logging handler
# --------------------------------------------------------------------------------------------


class _StreamRouter:
    """Stands in for sys.stdout/sys.stderr: writes from an invoking thread go to its invocation's log."""

    def __init__(self, wrapped: TextIO, name: str) -> None:
        self._wrapped = wrapped
        self._name = name

    @property
    def wrapped(self) -> TextIO:
        return self._wrapped

    def write(self, text: str) -> int:
        frame = _current_frame()
        if frame is None:
            return self._wrapped.write(text)
        frame.log.write(self._name, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if _current_frame() is None:
            self._wrapped.flush()

    def __getattr__(self, name: str) -> Any:
        if name == "_wrapped":  # not set yet (copy, pickle): do not recurse
            raise AttributeError(name)
        return getattr(self._wrapped, name)


def _ensure_stream_routers() -> None:
    # Re-checked per invocation because pytest's capture and others swap sys.stdout back and
    # forth; loggers bound to an older router keep working since routing is per thread.
    if not isinstance(sys.stdout, _StreamRouter):
        sys.stdout = cast(TextIO, _StreamRouter(sys.stdout, "stdout"))
    if not isinstance(sys.stderr, _StreamRouter):
        sys.stderr = cast(TextIO, _StreamRouter(sys.stderr, "stderr"))


def _remove_stream_routers() -> None:
    if isinstance(sys.stdout, _StreamRouter):
        sys.stdout = sys.stdout.wrapped
    if isinstance(sys.stderr, _StreamRouter):
        sys.stderr = sys.stderr.wrapped


class _LambdaFormatter(logging.Formatter):
    """The AWS Python runtime's text log format, timestamps in UTC."""

    def __init__(self) -> None:
        super().__init__(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
        self.converter = _utc


def _utc(seconds: float | None) -> time.struct_time:
    return time.gmtime(seconds)


class _LambdaRootHandler(logging.Handler):
    """The root handler every environment starts with, as in Lambda; host threads' records pass through."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(_LambdaFormatter())
        # The host's root handlers while an invocation has swapped them out.
        self.host_handlers: list[logging.Handler] = []

    def emit(self, record: logging.LogRecord) -> None:
        frame = _current_frame()
        if frame is None:
            # Another thread logged while a handler runs: give the record to the host's handlers.
            for handler in list(self.host_handlers):
                if record.levelno >= handler.level:
                    handler.handle(record)
            return
        record.aws_request_id = frame.request_id
        try:
            frame.log.add(self.format(record))
        except Exception:
            self.handleError(record)


_ROOT_HANDLER = _LambdaRootHandler()


# --------------------------------------------------------------------------------------------
# Execution environments
# --------------------------------------------------------------------------------------------


def _shadow_names(code_dir: Path, handler: str | None) -> frozenset[str]:
    """Top-level module names a code dir provides; they hide the host's modules of that name."""
    names: set[str] = set()
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for entry in code_dir.iterdir():
        name: str | None = None
        if entry.is_file():
            if entry.suffix == ".py":
                name = entry.stem
            elif entry.name.endswith(suffixes):
                name = entry.name.split(".", 1)[0]
        elif entry.is_dir() and (entry / "__init__.py").is_file():
            name = entry.name
        if name is not None:
            names.add(name)
    if handler and "." in handler:
        # The handler module may sit in a namespace package ("src/app.handler").
        names.add(handler.rsplit(".", 1)[0].replace("/", ".").split(".")[0])
    # Standard library modules are already imported by the host and win in Lambda too (the
    # runtime imports them before /var/task matters); runtime-provided packages must stay the
    # host's so moto's botocore hooks apply.
    stdlib = set(sys.stdlib_module_names) | set(sys.builtin_module_names)
    return frozenset(
        n
        for n in names
        if n.isidentifier()
        and not n.startswith("__")
        and n not in stdlib
        and n not in RUNTIME_PROVIDED_PACKAGES
    )


def _is_under(module: ModuleType, code_dir: str) -> bool:
    prefix = code_dir + os.sep
    file = getattr(module, "__file__", None)
    if isinstance(file, str) and file.startswith(prefix):
        return True
    try:
        paths = list(getattr(module, "__path__", None) or ())
    except Exception:
        return False
    return any(isinstance(p, str) and (p == code_dir or p.startswith(prefix)) for p in paths)


def _log_stream_name(version: str) -> str:
    today = dt.datetime.now(dt.UTC)
    return f"{today:%Y/%m/%d}/[{version}]{uuid.uuid4().hex}"


def _signature(function: LambdaFunction, code_dir: Path) -> tuple[Any, ...]:
    # A configuration or code change gives new execution environments, as in Lambda.
    env = tuple(sorted((function.environment_vars or {}).items()))
    return (
        str(code_dir),
        function.handler,
        env,
        function.timeout,
        function.memory_size,
        function.run_time,
        getattr(function, "code_sha_256", None),
    )


class _Sandbox:
    """One execution environment: the function's modules, handler and per-environment globals."""

    def __init__(self, function: LambdaFunction, code_dir: Path) -> None:
        self.code_dir = code_dir
        self.code_dir_str = str(code_dir)
        self.signature = _signature(function, code_dir)
        self.shadow_names = _shadow_names(code_dir, function.handler)
        self.modules: dict[str, ModuleType] = {}
        self.handler: Callable[[Any, LambdaContext], Any] | None = None
        self.log_stream_name = _log_stream_name(str(function.version))
        # sys.path entries the function added itself (a vendor dir inserted at INIT).
        self.extra_paths: list[str] = []
        self.boto3_session: Any = None
        self.root_handlers: list[logging.Handler] = [_ROOT_HANDLER]
        # Python's default, which Lambda keeps unless AWS_LAMBDA_LOG_LEVEL is configured.
        self.root_level = logging.WARNING
        self.busy = False
        self.discard = False


@dataclass
class _Activation:
    """What entering an environment replaced, to put back on leaving it."""

    sandbox: _Sandbox
    frame: _Frame
    saved_env: dict[str, str] | None = None
    stash: dict[str, ModuleType] = field(default_factory=dict)
    names_before: set[str] | None = None
    saved_path: list[str] | None = None
    path_at_start: list[str] = field(default_factory=list)
    dont_write_bytecode: bool = False
    boto3_swapped: bool = False
    boto3_session: Any = None
    root_handlers: list[logging.Handler] | None = None
    root_level: int = logging.WARNING


# The activations in progress, outermost first (all of one invocation chain, see _Gate).
_ACTIVE: list[_Activation] = []


@dataclass
class _Outcome:
    payload: bytes
    error: dict[str, Any] | None = None
    timed_out: bool = False
    limit_s: float = 0.0
    # Init errors, timeouts and exits reset the environment in Lambda.
    reset: bool = False


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        # The AWS runtime writes Decimals as plain JSON numbers (DynamoDB items carry them).
        if value.is_nan():
            return math.nan
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _error_payload(error_type: str, message: str, request_id: str, stack: list[str] | None) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }


def _stack_of(exc: BaseException) -> list[str]:
    frames = traceback.extract_tb(exc.__traceback__)
    # Drop the runtime's own frames, as the AWS runtime drops bootstrap.py's.
    start = 0
    while start < len(frames) and os.path.abspath(frames[start].filename) == _THIS_FILE:
        start += 1
    return traceback.format_list(frames[start:])


def _error_log_event(error: dict[str, Any]) -> str:
    """The runtime's `[ERROR]` log event: one multi-line event, indentation as no-break spaces."""
    error_type = error.get("errorType") or ""
    message = error.get("errorMessage") or ""
    head = "[ERROR]"
    if error_type:
        head += f" {error_type}:" if message else f" {error_type}"
    if message:
        head += f" {message}"
    lines = [head]
    stack = error.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            for line in str(element).splitlines():
                stripped = line.lstrip(" ")
                lines.append(_NBSP * (len(line) - len(stripped)) + stripped)
    return "\n".join(lines)


def _iso_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _max_memory_used_mb() -> int:
    try:
        import resource
    except ImportError:  # not on Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak // (1024 * 1024) if sys.platform == "darwin" else peak // 1024)


def _replace_environ(target: Mapping[str, str]) -> None:
    # Change only what differs, so other threads reading os.environ meanwhile see few gaps.
    for key in [k for k in os.environ if k not in target]:
        del os.environ[key]
    for key, value in target.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _parent_request_id_from_http() -> str | None:
    """The invocation whose handler made the HTTP request this server thread is serving, if any."""
    flask = sys.modules.get("flask")
    if flask is None:
        return None
    try:
        if flask.has_request_context():
            value = flask.request.headers.get(PARENT_REQUEST_HEADER)
            return str(value) if value else None
    except Exception:
        return None
    return None


def _tag_outgoing_request(request: Any = None, **_: Any) -> None:
    """botocore before-send hook: mark requests a handler makes with its request id."""
    frame = _current_frame()
    if frame is not None and request is not None:
        request.headers[PARENT_REQUEST_HEADER] = frame.request_id


# --------------------------------------------------------------------------------------------
# The runtime
# --------------------------------------------------------------------------------------------


class InProcessRuntime:
    """Runs registered functions' Python handlers in this process, the way Lambda would."""

    def __init__(
        self,
        code: FunctionCode | None = None,
        *,
        endpoint_url: str | None = None,
        credentials: tuple[str, str, str] = DUMMY_CREDENTIALS,
        extra_env: Mapping[str, str] | None = None,
        event_invocations: Literal["sync", "background"] = "sync",
        init_timeout_s: float = INIT_TIMEOUT_SECONDS,
        deadlock_grace_s: float = 1.0,
        passthrough_env_prefixes: tuple[str, ...] = ("MOTO_",),
    ) -> None:
        """
        endpoint_url: the local endpoint handlers' boto3 calls go to (AWS_ENDPOINT_URL); None
            with `mock_aws`, whose in-process interception only catches AWS host names.
        extra_env: added to every function's environment, e.g. POWERTOOLS_TRACE_DISABLED.
        passthrough_env_prefixes: host variables kept in the function's environment. moto reads
            its MOTO_* settings from os.environ at call time, on the handler's thread (mock_aws)
            and on server threads (MOTO_PORT for Step Functions' own client) while a handler runs.
        event_invocations: "sync" runs Event invocations before the Invoke call returns (moto's
            behaviour, deterministic in tests); "background" queues them to one worker thread,
            as AWS's asynchronous invocation does; `drain()` waits for the queue.
        """
        self.code = code if code is not None else FunctionCode()
        self.endpoint_url = endpoint_url
        self.credentials = credentials
        self.extra_env = dict(extra_env or {})
        self.event_invocations = event_invocations
        self.init_timeout_s = init_timeout_s
        self.deadlock_grace_s = deadlock_grace_s
        self.passthrough_env_prefixes = passthrough_env_prefixes
        self._pools: dict[str, list[_Sandbox]] = {}
        self._pools_lock = threading.Lock()
        self._events: queue.Queue[tuple[LambdaFunction, Any]] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()

    # -- registry and lifecycle -------------------------------------------------------------

    def register(self, function_arn_or_name: str, code_dir: Path | str) -> None:
        self.code.register(function_arn_or_name, code_dir)

    def handles(self, function: LambdaFunction) -> bool:
        return self.code.lookup(function) is not None

    def reset(self, function_arn_or_name: str | None = None) -> None:
        """Force cold starts: drop the execution environments of one function, or of all."""
        name = None if function_arn_or_name is None else _function_key(function_arn_or_name)[2]
        with self._pools_lock:
            for arn, pool in list(self._pools.items()):
                if name is not None and arn.split(":")[6] != name:
                    continue
                for sandbox in pool:
                    sandbox.discard = True  # a busy one goes when its invocation ends
                self._pools[arn] = [s for s in pool if s.busy]

    def _checkout(self, function: LambdaFunction, code_dir: Path) -> _Sandbox:
        signature = _signature(function, code_dir)
        with self._pools_lock:
            pool = self._pools.setdefault(function.function_arn, [])
            pool[:] = [s for s in pool if s.busy or (s.signature == signature and not s.discard)]
            for sandbox in pool:
                if not sandbox.busy and not sandbox.discard:
                    sandbox.busy = True
                    return sandbox
            # Every environment is busy (a function invoking itself): Lambda scales out, cold.
            sandbox = _Sandbox(function, code_dir)
            sandbox.busy = True
            pool.append(sandbox)
            return sandbox

    def _checkin(self, function: LambdaFunction, sandbox: _Sandbox) -> None:
        with self._pools_lock:
            sandbox.busy = False
            pool = self._pools.get(function.function_arn, [])
            if sandbox.discard and sandbox in pool:
                pool.remove(sandbox)

    # -- invoking ---------------------------------------------------------------------------

    def invoke(
        self,
        function: LambdaFunction,
        event: Any,
        *,
        invoked_function_arn: str | None = None,
        parent_request_id: str | None = None,
    ) -> InvocationResult:
        """Run `function`'s handler with `event` (already parsed JSON) and return AWS's result.

        parent_request_id: the PARENT_REQUEST_HEADER of the HTTP request that led here, for
            callers outside moto's Flask apps (a localcloud route); moto's own requests are read
            from Flask's request context.
        """
        code_dir = self.code.lookup(function)
        if code_dir is None:
            raise LookupError(f"no code dir registered for Lambda function {function.function_arn}")
        parent = _current_frame()
        if parent is None:
            parent_request_id = parent_request_id or _parent_request_id_from_http()
            return self._invoke(function, event, code_dir, invoked_function_arn, parent_request_id)
        parent.enter_child()
        try:
            return self._invoke(function, event, code_dir, invoked_function_arn, parent.request_id)
        finally:
            parent.leave_child()

    def invoke_event(self, function: LambdaFunction, event: Any) -> None:
        """An asynchronous (Event) invocation: run now or queue it, per `event_invocations`."""
        if self.event_invocations == "sync":
            self.invoke(function, event)
            return
        with self._worker_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._drain_events, name="localcloud-lambda-events", daemon=True
                )
                self._worker.start()
        self._events.put((function, event))

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until queued Event invocations have run; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._events.all_tasks_done:
            while self._events.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._events.all_tasks_done.wait(remaining)
        return True

    def _drain_events(self) -> None:
        while True:
            function, event = self._events.get()
            try:
                self.invoke(function, event)
            except Exception:
                _LOG.exception("Event invocation of %s failed", function.function_name)
            finally:
                self._events.task_done()

    def _invoke(
        self,
        function: LambdaFunction,
        event: Any,
        code_dir: Path,
        invoked_function_arn: str | None,
        parent_request_id: str | None,
    ) -> InvocationResult:
        frame = _Frame(str(uuid.uuid4()), function.function_name)
        try:
            _GATE.enter(frame, parent_request_id, self.deadlock_grace_s)
        except _RuntimeBusy as busy:
            return self._busy_result(function, frame, busy.holder)
        try:
            sandbox = self._checkout(function, code_dir)
            watchdog = threading.Thread(
                target=frame.watch, name=f"localcloud-watchdog-{frame.request_id[:8]}", daemon=True
            )
            watchdog.start()
            try:
                result = self._run(function, sandbox, frame, event, invoked_function_arn)
            finally:
                frame.finish()
                self._checkin(function, sandbox)
        finally:
            _GATE.leave(frame)
        self._ship_logs(function, sandbox.log_stream_name, frame.log.events)
        return result

    def _run(
        self,
        function: LambdaFunction,
        sandbox: _Sandbox,
        frame: _Frame,
        event: Any,
        invoked_function_arn: str | None,
    ) -> InvocationResult:
        log = frame.log
        request_id = frame.request_id
        version = str(function.version)
        timeout_s = float(function.timeout or 3)
        init_ms: float | None = None
        init_failed = False
        outcome: _Outcome | None = None
        duration_ms = 0.0
        activation = self._activate(function, sandbox, frame)
        try:
            if sandbox.handler is None:
                log.add(f"INIT_START Runtime Version: {_RUNTIME_VERSION}")
                started = time.perf_counter()
                outcome = self._init(function, sandbox, frame)
                init_ms = (time.perf_counter() - started) * 1000
                if outcome is not None and outcome.error is not None and not outcome.timed_out:
                    # Lambda logs a failed INIT before the invoke phase that reports it.
                    init_failed = True
                    log.flush()
                    log.add(_error_log_event(outcome.error))
                    log.add(
                        f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: error"
                        f"\tError Type: {outcome.error['errorType']}"
                    )
            log.add(f"START RequestId: {request_id} Version: {version}")
            started = time.perf_counter()
            if outcome is None:
                outcome = self._call_handler(function, sandbox, frame, event, invoked_function_arn, timeout_s)
            duration_ms = (time.perf_counter() - started) * 1000
            log.flush()
            if outcome.timed_out:
                log.add(f"{_iso_now()} {request_id} Task timed out after {outcome.limit_s:.2f} seconds")
            elif outcome.error is not None and not init_failed:
                log.add(_error_log_event(outcome.error))
            if outcome.reset:
                sandbox.discard = True
        finally:
            self._deactivate(activation)
        log.add(f"END RequestId: {request_id}")
        log.add(self._report_line(function, request_id, duration_ms, init_ms, outcome))
        return InvocationResult(
            request_id=request_id,
            payload=outcome.payload,
            function_error=UNHANDLED if outcome.error is not None else None,
            log_text=log.text(),
            duration_ms=duration_ms,
            init_duration_ms=init_ms,
            timed_out=outcome.timed_out,
        )

    def _report_line(
        self,
        function: LambdaFunction,
        request_id: str,
        duration_ms: float,
        init_ms: float | None,
        outcome: _Outcome,
    ) -> str:
        # Lambda bills INIT of on-demand functions too, rounded up to the millisecond.
        billed = math.ceil(duration_ms + (init_ms or 0.0))
        parts = [
            f"REPORT RequestId: {request_id}",
            f"Duration: {duration_ms:.2f} ms",
            f"Billed Duration: {billed} ms",
            f"Memory Size: {function.memory_size} MB",
            f"Max Memory Used: {_max_memory_used_mb()} MB",
        ]
        if init_ms is not None:
            parts.append(f"Init Duration: {init_ms:.2f} ms")
        if outcome.timed_out:
            parts.append("Status: timeout")
        elif outcome.reset and outcome.error is not None:
            parts.append(f"Status: error\tError Type: {outcome.error['errorType']}")
        return "\t".join(parts) + "\t"

    def _run_armed(
        self, frame: _Frame, limit_s: float, call: Callable[[], Any]
    ) -> tuple[Any, BaseException | None]:
        """Run `call` under the watchdog; return its value or the exception it raised."""
        value: Any = None
        error: BaseException | None = None
        try:
            frame.arm(limit_s)
            try:
                value = call()
            except (_LambdaTimeout, KeyboardInterrupt):
                raise
            except BaseException as exc:  # handlers may raise anything; AWS reports it all
                error = exc
            finally:
                frame.disarm()
        except _LambdaTimeout:
            frame.disarm()
        return value, error

    def _timeout_outcome(self, request_id: str, limit_s: float) -> _Outcome:
        error = {
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after {limit_s:.2f} seconds",
            "errorType": "Sandbox.Timedout",
        }
        return _Outcome(json.dumps(error).encode(), error, timed_out=True, limit_s=limit_s, reset=True)

    def _fault(
        self, error_type: str, message: str, stack: list[str] | None = None, *, request_id: str = ""
    ) -> _Outcome:
        # INIT faults carry an empty requestId, as the AWS runtime reports them.
        error = _error_payload(error_type, message, request_id, stack)
        return _Outcome(json.dumps(error).encode(), error, reset=True)

    def _init(self, function: LambdaFunction, sandbox: _Sandbox, frame: _Frame) -> _Outcome | None:
        """Import the handler's module (INIT); an outcome when it fails, None when it worked."""
        handler_name = function.handler or ""
        try:
            module_ref, attribute = handler_name.rsplit(".", 1)
        except ValueError as exc:
            return self._fault("Runtime.MalformedHandlerName", f"Bad handler '{handler_name}': {exc}")
        module_name = module_ref.replace("/", ".")
        if module_name.split(".")[0] in sys.builtin_module_names:
            return self._fault(
                "Runtime.BuiltInModuleConflict",
                f"Cannot use built-in module {module_ref} as a handler module",
            )
        module, error = self._run_armed(
            frame, self.init_timeout_s, lambda: importlib.import_module(module_name)
        )
        if frame.timed_out:
            return self._timeout_outcome(frame.request_id, self.init_timeout_s)
        if isinstance(error, ImportError):
            return self._fault(
                "Runtime.ImportModuleError", f"Unable to import module '{module_ref}': {error}"
            )
        if isinstance(error, SyntaxError):
            trace = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
            return self._fault(
                "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_ref}': {error}", trace
            )
        if isinstance(error, SystemExit):
            return self._fault("Runtime.ExitError", f"Runtime exited with error: exit status {error.code}")
        if error is not None:
            return self._fault(type(error).__name__, str(error), _stack_of(error))
        try:
            sandbox.handler = getattr(module, attribute)
        except AttributeError:
            return self._fault(
                "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_ref}'"
            )
        return None

    def _call_handler(
        self,
        function: LambdaFunction,
        sandbox: _Sandbox,
        frame: _Frame,
        event: Any,
        invoked_function_arn: str | None,
        timeout_s: float,
    ) -> _Outcome:
        handler = cast(Callable[[Any, LambdaContext], Any], sandbox.handler)
        request_id = frame.request_id

        def call() -> Any:
            # The context's deadline is the watchdog's, set when the handler phase is armed.
            context = LambdaContext(
                aws_request_id=request_id,
                function_name=function.function_name,
                function_version=str(function.version),
                invoked_function_arn=invoked_function_arn or function.function_arn,
                memory_limit_in_mb=str(function.memory_size),
                log_group_name=self._log_group(function),
                log_stream_name=sandbox.log_stream_name,
                deadline=frame.phase_deadline,
            )
            return handler(event, context)

        value, error = self._run_armed(frame, timeout_s, call)
        if frame.timed_out:
            return self._timeout_outcome(request_id, timeout_s)
        if isinstance(error, SystemExit):
            message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {error.code}"
            payload = {"errorMessage": message, "errorType": "Runtime.ExitError"}
            return _Outcome(json.dumps(payload).encode(), payload, reset=True)
        if error is not None:
            payload = _error_payload(type(error).__name__, str(error), request_id, _stack_of(error))
            return _Outcome(json.dumps(payload).encode(), payload)
        if isinstance(value, bytes | bytearray):
            return _Outcome(bytes(value))  # the runtime passes bytes through unencoded
        try:
            ensure_ascii = function.run_time != "python3.12"  # 3.12's runtime writes raw UTF-8
            text = json.dumps(value, default=_json_default, ensure_ascii=ensure_ascii)
        except (TypeError, ValueError) as exc:
            payload = _error_payload(
                "Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id, None
            )
            return _Outcome(json.dumps(payload).encode(), payload)
        return _Outcome(text.encode("utf-8"))

    # -- entering and leaving an execution environment ------------------------------------

    def _environment(
        self, function: LambdaFunction, sandbox: _Sandbox, host_env: Mapping[str, str]
    ) -> dict[str, str]:
        access_key, secret_key, session_token = self.credentials
        prefixes = self.passthrough_env_prefixes
        env = {key: value for key, value in host_env.items() if prefixes and key.startswith(prefixes)}
        env.update({"PATH": host_env.get("PATH") or os.defpath, "LANG": "en_US.UTF-8", "TZ": ":UTC"})
        env.update({str(k): str(v) for k, v in (function.environment_vars or {}).items()})
        env.update(self.extra_env)
        # What Lambda sets itself; users cannot override these in AWS either.
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": self._log_group(function),
                "AWS_LAMBDA_LOG_STREAM_NAME": sandbox.log_stream_name,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": function.region,
                "AWS_DEFAULT_REGION": function.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
                "_HANDLER": function.handler or "",
                "LAMBDA_TASK_ROOT": sandbox.code_dir_str,
                "AWS_ACCESS_KEY_ID": access_key,
                "AWS_SECRET_ACCESS_KEY": secret_key,
                "AWS_SESSION_TOKEN": session_token,
            }
        )
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env

    def _activate(self, function: LambdaFunction, sandbox: _Sandbox, frame: _Frame) -> _Activation:
        act = _Activation(sandbox=sandbox, frame=frame)
        try:
            act.saved_env = dict(os.environ)
            _replace_environ(self._environment(function, sandbox, act.saved_env))

            # Hide every module this code dir's modules would collide with (the host's, another
            # function's) and the modules of the invocations this one nests in, then put this
            # environment's own modules back.
            hidden = set(sandbox.shadow_names)
            for outer in _ACTIVE:
                hidden |= outer.sandbox.shadow_names
            for name in list(sys.modules):
                if name.partition(".")[0] in hidden:
                    act.stash[name] = sys.modules.pop(name)
            for name in [n for outer in _ACTIVE for n in outer.sandbox.modules]:
                module = sys.modules.pop(name, None)
                if module is not None:
                    act.stash.setdefault(name, module)
            for name, module in sandbox.modules.items():
                if name in sys.modules:
                    act.stash.setdefault(name, sys.modules[name])
                sys.modules[name] = module
            act.names_before = set(sys.modules)

            # The code dir is importable only while this environment runs; the code dirs of
            # the invocations this one nests in are not.
            act.saved_path = list(sys.path)
            outer_paths = {
                p for outer in _ACTIVE for p in (outer.sandbox.code_dir_str, *outer.sandbox.extra_paths)
            }
            sys.path[:] = [
                *sandbox.extra_paths,
                sandbox.code_dir_str,
                *(p for p in act.saved_path if p not in outer_paths),
            ]
            act.path_at_start = list(sys.path)
            # Keep __pycache__ out of cdk.out assets and fixture dirs.
            act.dont_write_bytecode = sys.dont_write_bytecode
            sys.dont_write_bytecode = True

            boto3: Any = sys.modules.get("boto3")
            if boto3 is not None:
                act.boto3_swapped = True
                act.boto3_session = boto3.DEFAULT_SESSION
                boto3.DEFAULT_SESSION = sandbox.boto3_session

            root = logging.getLogger()
            act.root_handlers = root.handlers
            act.root_level = root.level
            if not _ACTIVE:
                _ROOT_HANDLER.host_handlers = list(root.handlers)
            root.handlers = sandbox.root_handlers
            root.setLevel(sandbox.root_level)  # setLevel also clears the loggers' level caches

            _ensure_stream_routers()
            _ACTIVE.append(act)
            _frames().append(frame)
        except BaseException:
            self._deactivate(act)
            raise
        return act

    def _deactivate(self, act: _Activation) -> None:
        sandbox = act.sandbox
        frames = _frames()
        if frames and frames[-1] is act.frame:
            frames.pop()
        if act in _ACTIVE:
            _ACTIVE.remove(act)

        root = logging.getLogger()
        if act.root_handlers is not None:
            sandbox.root_handlers = root.handlers
            sandbox.root_level = root.level
            root.handlers = act.root_handlers
            root.setLevel(act.root_level)
            if not _ACTIVE:
                _ROOT_HANDLER.host_handlers = []

        boto3: Any = sys.modules.get("boto3")
        if boto3 is not None:
            # boto3 may have been imported by the handler itself; the host then had no session.
            sandbox.boto3_session = boto3.DEFAULT_SESSION
            boto3.DEFAULT_SESSION = act.boto3_session if act.boto3_swapped else None

        if act.saved_path is not None:
            sys.dont_write_bytecode = act.dont_write_bytecode
            current = list(sys.path)
            kept = [p for p in sandbox.extra_paths if p in current]
            added = [p for p in current if p not in act.path_at_start and p not in act.saved_path]
            sandbox.extra_paths = kept + [p for p in added if p not in kept]
            sys.path[:] = act.saved_path

        if act.names_before is not None:
            # Evict this environment's modules (cached ones and those imported just now, lazy
            # imports included) into its cache; modules from elsewhere stay shared.
            for name in (set(sys.modules) - act.names_before) | set(sandbox.modules):
                module = sys.modules.get(name)
                if module is None:
                    sandbox.modules.pop(name, None)
                    continue
                if (
                    name in sandbox.modules
                    or name.partition(".")[0] in sandbox.shadow_names
                    or _is_under(module, sandbox.code_dir_str)
                ):
                    sandbox.modules[name] = module
                    del sys.modules[name]
        sys.modules.update(act.stash)

        if act.saved_env is not None:
            _replace_environ(act.saved_env)

    # -- logs -----------------------------------------------------------------------------

    @staticmethod
    def _log_group(function: LambdaFunction) -> str:
        return str(getattr(function, "logs_group_name", None) or f"/aws/lambda/{function.function_name}")

    def _ship_logs(self, function: LambdaFunction, stream: str, events: list[tuple[int, str]]) -> None:
        """Write an invocation's log events to moto's CloudWatch Logs backend (not through HTTP)."""
        if not events:
            return
        try:
            from moto.logs.models import logs_backends

            backend = logs_backends[function.account_id][function.region]
            group = self._log_group(function)
            backend.ensure_log_group(group)
            backend.ensure_log_stream(group, stream)
            backend.put_log_events(group, stream, [{"timestamp": ts, "message": msg} for ts, msg in events])
        except Exception:
            # Losing logs must not fail the invocation; say so on the host's log.
            _LOG.exception("could not write the logs of %s to CloudWatch Logs", function.function_name)

    def _busy_result(self, function: LambdaFunction, frame: _Frame, holder: _Frame) -> InvocationResult:
        message = (
            f"localcloud could not start {function.function_name}: the in-process Lambda runtime is held "
            f"by {holder.function_name} (RequestId {holder.request_id}), which is past its timeout and is "
            "probably waiting for this very call. A handler calling back into localcloud must do so "
            "through boto3 from its own thread; invocations are serialized (see localcloud.lambda_runtime)."
        )
        error = {
            "errorMessage": message,
            "errorType": "Localcloud.RuntimeBusy",
            "requestId": frame.request_id,
        }
        frame.log.add(f"{_iso_now()} {frame.request_id} {message}")
        self._ship_logs(function, _log_stream_name(str(function.version)), frame.log.events)
        return InvocationResult(
            request_id=frame.request_id,
            payload=json.dumps(error).encode(),
            function_error=UNHANDLED,
            log_text=frame.log.text(),
            duration_ms=0.0,
        )


# --------------------------------------------------------------------------------------------
# The moto hook
# --------------------------------------------------------------------------------------------


@dataclass
class _Hook:
    runtime: InProcessRuntime | None = None
    # moto's own implementations, kept after uninstall: a wrapper someone put around a patched
    # method may outlive it and still call through it.
    originals: dict[tuple[type, str], Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def original(self, cls: type, name: str) -> Any:
        return self.originals[(cls, name)]


_HOOK = _Hook()
_BOTOCORE_HANDLER = ("before-send", _tag_outgoing_request)


def _runtime_for(function: Any) -> InProcessRuntime | None:
    runtime = _HOOK.runtime
    if runtime is not None and runtime.handles(function):
        return runtime
    return None


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name) if hasattr(headers, "get") else None
    if value is None:
        # Plain dicts (moto's internal callers) are case-sensitive; HTTP headers are not.
        for key, candidate in dict(headers).items():
            if str(key).lower() == name.lower():
                value = candidate
                break
    return None if value is None else str(value)


def _parse_body(body: Any) -> Any:
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8")
    if body is None or body == "":
        return {}  # Lambda hands an empty payload over as {}
    if not isinstance(body, str):
        return body
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        from moto.awslambda.exceptions import LambdaClientError

        raise LambdaClientError(
            "InvalidRequestContentException", f"Could not parse request body into json: {exc}"
        ) from exc


def _log_result_header(log_text: str) -> str:
    tail = log_text.encode("utf-8")[-LOG_RESULT_TAIL_BYTES:]
    return base64.b64encode(tail).decode("ascii")


def _patched_invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
    """`LambdaFunction._invoke_lambda`: where moto runs a function; returns (payload, errored, logs)."""
    from moto.awslambda.models import LambdaFunction

    runtime = _runtime_for(self)
    if runtime is None:
        return cast(tuple[str, bool, str], _HOOK.original(LambdaFunction, "_invoke_lambda")(self, event))
    if isinstance(event, str | bytes):
        with contextlib.suppress(json.JSONDecodeError):
            event = json.loads(event)
    result = runtime.invoke(self, {} if event is None else event)
    return result.payload.decode("utf-8", errors="replace"), result.errored, result.log_text


def _patched_function_invoke(
    self: Any, body: Any, request_headers: Any, response_headers: Any
) -> str | bytes:
    """`LambdaFunction.invoke`: honour the invocation type and report errors as AWS does."""
    from moto.awslambda.models import LambdaFunction

    runtime = _runtime_for(self)
    if runtime is None:
        return cast(
            "str | bytes",
            _HOOK.original(LambdaFunction, "invoke")(self, body, request_headers, response_headers),
        )
    invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
    if invocation_type == "DryRun":
        # AWS only validates the request; moto ran the function.
        return b""
    event = _parse_body(body)
    if invocation_type == "Event":
        # AWS answers 202 with an empty body and reports errors only in the function's logs.
        runtime.invoke_event(self, event)
        return b""
    result = runtime.invoke(self, event)
    response_headers["x-amz-executed-version"] = str(self.version)
    if result.function_error is not None:
        # moto says "Handled"; AWS says "Unhandled" for errors the function did not catch.
        response_headers["x-amz-function-error"] = result.function_error
    response_headers["x-amz-log-result"] = _log_result_header(result.log_text)
    return result.payload


def _patched_simple_backend_invoke(
    self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> str | bytes | None:
    """`LambdaSimpleBackend.invoke` (use_docker=False) echoes payloads; run registered functions instead."""
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda_simple.models import LambdaSimpleBackend

    if _HOOK.runtime is not None:
        try:
            function = self.get_function(function_name, qualifier)
        except Exception:
            function = None
        if function is not None and _runtime_for(function) is not None:
            return cast(
                "str | bytes | None",
                LambdaBackend.invoke(self, function_name, qualifier, body, headers, response_headers),
            )
    return cast(
        "str | bytes | None",
        _HOOK.original(LambdaSimpleBackend, "invoke")(
            self, function_name, qualifier, body, headers, response_headers
        ),
    )


def install(runtime: InProcessRuntime) -> None:
    """Route every invocation of `runtime`'s registered functions in moto to `runtime`."""
    from botocore.handlers import BUILTIN_HANDLERS
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

    patches: list[tuple[type, str, Any]] = [
        (LambdaFunction, "_invoke_lambda", _patched_invoke_lambda),
        (LambdaFunction, "invoke", _patched_function_invoke),
        (LambdaSimpleBackend, "invoke", _patched_simple_backend_invoke),
    ]
    with _HOOK.lock:
        if _HOOK.runtime is not None:
            _uninstall_locked()
        for cls, name, replacement in patches:
            _HOOK.originals.setdefault((cls, name), cls.__dict__[name])
            setattr(cls, name, replacement)
        # Sessions created from now on (every function's boto3 session) tag their requests.
        if _BOTOCORE_HANDLER not in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.append(_BOTOCORE_HANDLER)
        _HOOK.runtime = runtime


def uninstall() -> None:
    """Restore moto's own invoke path."""
    with _HOOK.lock:
        _uninstall_locked()


def _uninstall_locked() -> None:
    from botocore.handlers import BUILTIN_HANDLERS

    if _HOOK.runtime is None:
        return
    for (cls, name), original in _HOOK.originals.items():
        setattr(cls, name, original)
    if _BOTOCORE_HANDLER in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.remove(_BOTOCORE_HANDLER)
    if _GATE.depth == 0:
        _remove_stream_routers()
    _HOOK.runtime = None


def installed_runtime() -> InProcessRuntime | None:
    return _HOOK.runtime
