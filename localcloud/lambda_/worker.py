"""One Lambda execution environment: the process a worker runs in, as Lambda's runtime runs a sandbox.

Forked from the zygote (`localcloud.lambda_.zygote`), a worker belongs to one function for its
whole life. It takes the function's environment, working directory and code dir, imports the
handler (INIT), then runs invocations one at a time as localcloud sends them. What the handler
prints or logs goes back to localcloud line by line, so a timeout (localcloud kills the process)
keeps what was written before it.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import math
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from localcloud.lambda_.protocol import Channel, ChannelClosed

_THIS_FILE = os.path.abspath(__file__)
_NBSP = "\u00a0"


class LambdaContext:
    """The `context` a handler receives, with the attributes of the AWS Python runtime's context."""

    def __init__(
        self, *, request_id: str, deadline_ms: int, function: dict[str, Any], invoked_arn: str
    ) -> None:
        self.aws_request_id = request_id
        self.function_name = function["name"]
        self.function_version = function["version"]
        self.invoked_function_arn = invoked_arn
        # A string, as in AWS: the Python runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
        self.memory_limit_in_mb = str(function["memory"])
        self.log_group_name = function["log_group"]
        self.log_stream_name = function["log_stream"]
        self.identity = SimpleNamespace(cognito_identity_id=None, cognito_identity_pool_id=None)
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def log(self, msg: Any) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(aws_request_id={self.aws_request_id!r}, function_name={self.function_name!r}, "
            f"function_version={self.function_version!r}, invoked_function_arn={self.invoked_function_arn!r})"
        )


class _Output:
    """Stands in for sys.stdout/sys.stderr: each line is a log event, sent to localcloud at once."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._worker.log(line.rstrip("\r"))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with self._lock:
            rest, self._partial = self._partial, ""
        if rest:
            self._worker.log(rest.rstrip("\r"))

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError("a Lambda log stream has no file descriptor here")

    @property
    def encoding(self) -> str:
        return "utf-8"


class _LambdaFormatter(logging.Formatter):
    """The AWS Python runtime's text log format, timestamps in UTC."""

    converter = staticmethod(time.gmtime)

    def __init__(self) -> None:
        super().__init__(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
        )


class _LambdaHandler(logging.Handler):
    """The root handler every environment starts with, as in Lambda: one log event per record."""

    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self._worker = worker
        self.setFormatter(_LambdaFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        record.aws_request_id = self._worker.request_id
        try:
            self._worker.log(self.format(record))
        except Exception:
            self.handleError(record)


class Worker:
    """Serves one function's INIT and invocations on `channel` until localcloud closes it."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.request_id = ""
        self.function: dict[str, Any] = {}
        self.handler: Callable[[Any, LambdaContext], Any] | None = None
        self._send_lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        with self._send_lock:
            self.channel.send(message)

    def log(self, line: str) -> None:
        if line:  # CloudWatch rejects empty events
            self.send({"op": "log", "line": line, "time": int(time.time() * 1000)})

    def serve(self) -> None:
        while True:
            try:
                message = self.channel.receive()
            except ChannelClosed:
                return
            if message["op"] == "init":
                self.send(self._init(message["function"]))
            elif message["op"] == "invoke":
                result = self._invoke(message)
                self.send(result)
                if result.get("exit"):
                    os._exit(1)

    # -- INIT ---------------------------------------------------------------------------------------
    def _init(self, function: dict[str, Any]) -> dict[str, Any]:
        self.function = function
        os.environ.clear()
        os.environ.update(function["env"])
        os.environ["AWS_LAMBDA_LOG_STREAM_NAME"] = function["log_stream"]  # the environment's own
        time.tzset()  # TZ is the function's (":UTC", as in Lambda)
        code_dir = function["code_dir"]
        os.chdir(code_dir)
        _forget_shadowed_modules(code_dir)
        host = [p for p in sys.path if p not in ("", function["project_root"])]
        sys.path[:] = [code_dir, *function.get("layers", ()), *host]  # /var/task, then /opt
        sys.stdout = sys.stderr = _Output(self)
        root = logging.getLogger()
        root.handlers = [_LambdaHandler(self)]
        root.setLevel(logging.WARNING)  # Python's default, which Lambda keeps unless a level is configured
        started = time.perf_counter()
        error = self._import_handler(function["handler"])
        sys.stdout.flush()
        if error is not None:
            self.log(error_log_event(error))
        return {"op": "init_done", "error": error, "init_ms": (time.perf_counter() - started) * 1000}

    def _import_handler(self, handler_name: str) -> dict[str, Any] | None:
        try:
            module_ref, attribute = handler_name.rsplit(".", 1)
        except ValueError as exc:
            return _fault("Runtime.MalformedHandlerName", f"Bad handler '{handler_name}': {exc}")
        module_name = module_ref.replace("/", ".")
        if module_name.split(".")[0] in sys.builtin_module_names:
            return _fault(
                "Runtime.BuiltInModuleConflict",
                f"Cannot use built-in module {module_ref} as a handler module",
            )
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            return _fault("Runtime.ImportModuleError", f"Unable to import module '{module_ref}': {exc}")
        except SyntaxError as exc:
            trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
            return _fault(
                "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_ref}': {exc}", trace
            )
        except SystemExit as exc:
            return _fault("Runtime.ExitError", f"Runtime exited with error: exit status {exc.code}")
        except BaseException as exc:  # INIT may raise anything; AWS reports it all
            return _fault(type(exc).__name__, str(exc), _stack_of(exc))
        try:
            self.handler = getattr(module, attribute)
        except AttributeError:
            return _fault(
                "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_ref}'"
            )
        return None

    # -- invocations --------------------------------------------------------------------------------
    def _invoke(self, message: dict[str, Any]) -> dict[str, Any]:
        self.request_id = request_id = message["request_id"]
        context = LambdaContext(
            request_id=request_id,
            deadline_ms=message["deadline_ms"],
            function=self.function,
            invoked_arn=message["invoked_arn"],
        )
        event = json.loads(message["event"]) if message["event"] else {}
        started = time.perf_counter()
        result = self._call(event, context)
        sys.stdout.flush()
        result.update(op="result", duration_ms=(time.perf_counter() - started) * 1000, memory_mb=_peak_mb())
        return result

    def _call(self, event: Any, context: LambdaContext) -> dict[str, Any]:
        assert self.handler is not None
        request_id = context.aws_request_id
        try:
            value = self.handler(event, context)
        except SystemExit as exc:
            message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {exc.code}"
            return {"error": {"errorMessage": message, "errorType": "Runtime.ExitError"}, "exit": True}
        except BaseException as exc:  # handlers may raise anything; AWS reports it all
            error = _error(type(exc).__name__, str(exc), request_id, _stack_of(exc))
            self.log(error_log_event(error))
            return {"error": error}
        if isinstance(value, bytes | bytearray):
            # The runtime passes bytes through unencoded.
            return {"payload": bytes(value).decode("latin-1"), "binary": True}
        try:
            ensure_ascii = self.function.get("runtime") != "python3.12"  # 3.12's runtime writes raw UTF-8
            return {"payload": json.dumps(value, default=_json_default, ensure_ascii=ensure_ascii)}
        except (TypeError, ValueError) as exc:
            error = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id, None)
            self.log(error_log_event(error))
            return {"error": error}


def _forget_shadowed_modules(code_dir: str) -> None:
    """Modules preloaded by the zygote that the function's code provides itself: its own copy wins."""
    provided = set()
    for entry in os.scandir(code_dir):
        if entry.is_file() and entry.name.endswith(".py"):
            provided.add(entry.name[:-3])
        elif entry.is_dir() and os.path.isfile(os.path.join(entry.path, "__init__.py")):
            provided.add(entry.name)
    provided -= set(sys.stdlib_module_names) | {"localcloud"}
    for name in [n for n in sys.modules if n.partition(".")[0] in provided]:
        del sys.modules[name]


def _fault(error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    # INIT faults carry an empty requestId, as the AWS runtime reports them.
    return _error(error_type, message, "", stack)


def _error(error_type: str, message: str, request_id: str, stack: list[str] | None) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }


def _stack_of(exc: BaseException) -> list[str]:
    frames = traceback.extract_tb(exc.__traceback__)
    # Drop the worker's own frames, as the AWS runtime drops bootstrap.py's.
    start = 0
    while start < len(frames) and os.path.abspath(frames[start].filename) == _THIS_FILE:
        start += 1
    return traceback.format_list(frames[start:])


def error_log_event(error: dict[str, Any]) -> str:
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


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        # The AWS runtime writes Decimals as plain JSON numbers (DynamoDB items carry them).
        if value.is_nan():
            return math.nan
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _peak_mb() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
