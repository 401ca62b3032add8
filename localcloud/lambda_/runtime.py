"""The Lambda runtime of localcloud: functions' handlers in warm worker processes, with Lambda's limits.

Each function has its own execution environments (worker processes, see `sandbox.py`), reused
while warm. An invocation takes an idle one, or a new one (a cold start) while the function has
fewer than it may run at once. Two limits apply, as on AWS: a function's reserved concurrency and
the account's concurrency; past them the invocation is throttled (`Throttled`). A third limit is
this machine's: at most `sandboxes_per_function` environments of one function run at once, and
invocations beyond that wait in localcloud's queue, on the fair clock (a wait that counts against
no Step Functions deadline).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localcloud.core.backends import BACKENDS
from localcloud.core.clock import FairClock
from localcloud.core.faults import Faults
from localcloud.core.settings import Settings
from localcloud.lambda_.logs import (
    error_payload,
    iso_now,
    log_stream_name,
    now_ms,
    report_line,
    ship_logs,
    timeout_error,
)
from localcloud.lambda_.sandbox import FunctionSpec, Outcome, Sandbox, Zygote, event_text
from localcloud.lambda_.worker import error_log_event

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

UNHANDLED = "Unhandled"
DUMMY_CREDENTIALS = ("testing", "testing", "testing")
_RUNTIME_VERSION = "python:{runtime}.localcloud"


class Throttled(Exception):
    """TooManyRequestsException: the function is at its concurrency limit (`reason` says which)."""

    def __init__(self, function_name: str, reason: str) -> None:
        super().__init__(f"Rate Exceeded. ({function_name}: {reason})")
        self.function_name = function_name
        self.reason = reason


class NotRunnable(Exception):
    """The function has no code localcloud can run (not Python, or no code dir known)."""


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation: what AWS returns to the caller plus what it logs."""

    request_id: str
    payload: bytes
    function_error: str | None
    log_text: str
    duration_ms: float
    queued_ms: float = 0.0  # waiting in localcloud's queue for an environment (no time AWS would take)

    @property
    def errored(self) -> bool:
        return self.function_error is not None

    def json(self) -> Any:
        import json

        return json.loads(self.payload) if self.payload else None


@dataclass
class _Ticket:
    """An invocation waiting in localcloud's queue for one of its function's environments."""

    ready: threading.Event = field(default_factory=threading.Event)
    sandbox: Sandbox | None = None  # a warm environment handed over, or None: start a new one


@dataclass
class _Pool:
    """One function's execution environments and the invocations in flight or waiting."""

    idle: list[Sandbox] = field(default_factory=list)
    running: int = 0  # environments running an invocation (or starting to)
    in_flight: int = 0  # invocations running or waiting: the function's concurrency as AWS counts it
    waiting: deque[_Ticket] = field(default_factory=deque)


class Runtime:
    """Runs registered Python functions in worker processes, the way Lambda runs them."""

    def __init__(
        self,
        settings: Settings,
        *,
        fair_clock: FairClock,
        project_root: Path,
        faults: Faults | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._fair = fair_clock
        self._faults = faults
        self._project_root = project_root
        self._extra_env = dict(extra_env or {})
        self._init_timeout = settings.init_timeout
        self._code: dict[str, Path] = {}  # function ARN (unqualified) -> code dir
        self._layers: dict[str, tuple[str, ...]] = {}  # function ARN -> what its layers put on sys.path
        self._pools: dict[str, _Pool] = {}
        self._reserved: dict[str, int] = {}  # function ARN -> its reserved concurrency, when set
        self._lock = threading.Lock()
        self._zygote: Zygote | None = None
        self._zygote_lock = threading.Lock()

    # -- code ---------------------------------------------------------------------------------
    def register(self, function_arn: str, code_dir: Path | str, layers: Sequence[Path] = ()) -> None:
        """Runs the function (every version) from `code_dir`, its unzipped code, with its layers' code."""
        path = Path(code_dir).resolve()
        if not path.is_dir():
            raise NotADirectoryError(f"code dir of {function_arn} is not a directory: {path}")
        with self._lock:
            self._code[_unqualified(function_arn)] = path
            self._layers[_unqualified(function_arn)] = tuple(_layer_paths(layers))

    def handles(self, function: LambdaFunction) -> bool:
        return _unqualified(function.function_arn) in self._code

    def start(self) -> None:
        """Starts the zygote now (it imports the SDK once), rather than at the first invocation."""
        self._ensure_zygote()

    def stop(self) -> None:
        with self._lock:
            sandboxes = [s for pool in self._pools.values() for s in pool.idle]
            for pool in self._pools.values():
                pool.idle.clear()
        for sandbox in sandboxes:
            sandbox.kill()
        with self._zygote_lock:
            if self._zygote is not None:
                self._zygote.stop()
                self._zygote = None

    def reset(self, function_arn: str | None = None) -> None:
        """Forces cold starts: ends the idle environments of one function, or of all."""
        with self._lock:
            pools = (
                [self._pools.get(_unqualified(function_arn))] if function_arn else list(self._pools.values())
            )
            doomed = [s for pool in pools if pool for s in pool.idle]
            for pool in pools:
                if pool:
                    pool.idle.clear()
        for sandbox in doomed:
            sandbox.kill()

    def usage(self, function_arn: str) -> dict[str, int]:
        """One function's environments: running, idle, and invocations in flight or waiting in line."""
        with self._lock:
            pool = self._pools.get(_unqualified(function_arn)) or _Pool()
            return {
                "running": pool.running,
                "idle": len(pool.idle),
                "in_flight": pool.in_flight,
                "waiting": len(pool.waiting),
            }

    def worker_pids(self) -> list[int]:
        """The process ids of the idle workers (for tests and `make bench`)."""
        with self._lock:
            return [sandbox.pid for pool in self._pools.values() for sandbox in pool.idle]

    def zygote_pid(self) -> int | None:
        with self._zygote_lock:
            return None if self._zygote is None else self._zygote.process.pid

    def in_flight(self) -> int:
        """Invocations running or waiting for an environment, in all functions."""
        with self._lock:
            return sum(pool.in_flight for pool in self._pools.values())

    def set_reserved_concurrency(self, function_arn: str, reserved: Any) -> None:
        """Keeps the function's reserved concurrency (None: it has none) out of the account's pool."""
        with self._lock:
            if reserved is None or reserved == "":
                self._reserved.pop(_unqualified(function_arn), None)
            else:
                self._reserved[_unqualified(function_arn)] = int(reserved)

    # -- invoking -----------------------------------------------------------------------------
    def invoke(
        self, function: LambdaFunction, event: Any, *, invoked_arn: str | None = None
    ) -> InvocationResult:
        """Runs the handler with `event` and returns AWS's result; raises Throttled past the limits.

        Whoever holds the backend lock lets go of it while the handler runs (it calls back into
        localcloud).
        """
        spec = self._spec(function)
        self.set_reserved_concurrency(spec.arn, getattr(function, "reserved_concurrency", None))
        request_id = str(uuid.uuid4())
        fault = self._faults.for_function(spec.name, spec.arn) if self._faults else None
        if fault is not None:
            return self._faulted(spec, request_id, fault)
        sandbox, queued = self._acquire(spec)
        init: Outcome | None = None
        outcome: Outcome | None = None
        try:
            with BACKENDS.released():
                if not sandbox.initialized:
                    init = sandbox.init(self._init_timeout)
                if init is None or (init.error is None and not init.timed_out):
                    outcome = sandbox.invoke(
                        request_id, event_text(event), invoked_arn=invoked_arn or spec.arn
                    )
        except BaseException:
            sandbox.kill()
            raise
        finally:
            keep = not sandbox.dead and not (init and init.reset) and not (outcome and outcome.reset)
            if not keep:
                sandbox.kill()
            self._release(spec, sandbox, keep=keep)
        result = self._result(spec, sandbox.log_stream, sandbox.memory_mb, request_id, init, outcome)
        return dataclasses.replace(result, queued_ms=queued * 1000)

    def _faulted(self, spec: FunctionSpec, request_id: str, fault: Any) -> InvocationResult:
        """The fault switch's throttle, error or timeout instead of this invocation: no handler runs."""
        if fault.effect == "throttle":
            raise Throttled(spec.name, "ConcurrentInvocationLimitExceeded")
        if fault.effect == "timeout":
            outcome = Outcome(timed_out=True, reset=True, duration_ms=spec.timeout * 1000)
        else:
            error = {
                "errorMessage": fault.error_message,
                "errorType": fault.error_type,
                "requestId": request_id,
                "stackTrace": [],
            }
            outcome = Outcome(error=error, logs=[(now_ms(), error_log_event(error))])
        return self._result(spec, log_stream_name(spec.version), 0, request_id, None, outcome)

    def _spec(self, function: LambdaFunction) -> FunctionSpec:
        arn = _unqualified(function.function_arn)
        code_dir = self._code.get(arn)
        if code_dir is None:
            raise NotRunnable(f"localcloud has no code for Lambda function {arn}")
        log_group = str(getattr(function, "logs_group_name", None) or f"/aws/lambda/{function.function_name}")
        return FunctionSpec(
            arn=arn,
            name=function.function_name,
            version=str(function.version),
            handler=function.handler or "",
            runtime=function.run_time or "",
            code_dir=str(code_dir),
            layers=self._layers.get(arn, ()),
            env=tuple(sorted(self._environment(function, code_dir, log_group).items())),
            timeout=float(function.timeout or 3),
            memory=int(function.memory_size or 128),
            log_group=log_group,
        )

    def _environment(self, function: LambdaFunction, code_dir: Path, log_group: str) -> dict[str, str]:
        access_key, secret_key, session_token = DUMMY_CREDENTIALS
        env = {"PATH": os.environ.get("PATH") or os.defpath, "LANG": "en_US.UTF-8", "TZ": ":UTC"}
        env.update({str(k): str(v) for k, v in (function.environment_vars or {}).items()})
        env.update(self._extra_env)
        # What Lambda sets itself; users cannot override these in AWS either.
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": str(function.version),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": function.region,
                "AWS_DEFAULT_REGION": function.region,
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
                "_HANDLER": function.handler or "",
                "LAMBDA_TASK_ROOT": str(code_dir),
                "AWS_ACCESS_KEY_ID": access_key,
                "AWS_SECRET_ACCESS_KEY": secret_key,
                "AWS_SESSION_TOKEN": session_token,
                "AWS_ENDPOINT_URL": self._settings.endpoint_url,
            }
        )
        return env

    # -- environments and limits ----------------------------------------------------------------
    def _acquire(self, spec: FunctionSpec) -> tuple[Sandbox, float]:
        """An environment for one invocation, and the seconds it waited in localcloud's queue for it."""
        with self._lock:
            pool = self._pools.setdefault(spec.arn, _Pool())
            self._check_concurrency(spec, pool)
            pool.in_flight += 1
            sandbox = self._take_idle(spec, pool)
            if sandbox is not None:
                return sandbox, 0.0
            if pool.running < self.local_limit(spec.arn):
                pool.running += 1
                ticket = None
            else:
                ticket = _Ticket()
                pool.waiting.append(ticket)
        waited = 0.0
        if ticket is not None:
            queued = time.monotonic()
            with self._fair.waiting(), BACKENDS.released():
                ticket.ready.wait()
            waited = time.monotonic() - queued
            if ticket.sandbox is not None:
                return ticket.sandbox, waited
        try:
            return self._new_sandbox(spec), waited
        except BaseException:
            self._release(spec, None, keep=False)
            raise

    def _check_concurrency(self, spec: FunctionSpec, pool: _Pool) -> None:
        reserved = self._reserved.get(spec.arn)
        if reserved is not None:
            if pool.in_flight >= reserved:
                raise Throttled(spec.name, "ReservedFunctionConcurrentInvocationLimitExceeded")
            return
        unreserved = self._settings.account_concurrency - sum(self._reserved.values())
        shared = sum(p.in_flight for arn, p in self._pools.items() if arn not in self._reserved)
        if shared >= unreserved:
            raise Throttled(spec.name, "ConcurrentInvocationLimitExceeded")

    def local_limit(self, function_arn: str) -> int:
        """How many environments of the function may run at once here (its reserved concurrency, if lower)."""
        reserved = self._reserved.get(_unqualified(function_arn))
        limit = self._settings.sandboxes_per_function
        return max(1, min(limit, reserved) if reserved else limit)

    def _take_idle(self, spec: FunctionSpec, pool: _Pool) -> Sandbox | None:
        """A warm environment of this very configuration; stale ones (older code or settings) end."""
        while pool.idle:
            sandbox = pool.idle.pop()  # the most recently used: warmest
            if sandbox.spec == spec and not sandbox.dead:
                pool.running += 1
                return sandbox
            sandbox.kill()
        return None

    def _new_sandbox(self, spec: FunctionSpec) -> Sandbox:
        self._retire_idle_beyond(self._settings.max_sandboxes - 1)
        with BACKENDS.released():
            return Sandbox(
                self._ensure_zygote(),
                spec,
                log_stream=log_stream_name(spec.version),
                project_root=self._project_root,
            )

    def _retire_idle_beyond(self, limit: int) -> None:
        """Ends the least recently used idle environments while more than `limit` are alive."""
        with self._lock:
            alive = sum(len(p.idle) + p.running for p in self._pools.values())
            idle = sorted((s.last_used, id(s), s, p) for p in self._pools.values() for s in p.idle)
            doomed = []
            for _, _, sandbox, pool in idle:
                if alive <= limit:
                    break
                pool.idle.remove(sandbox)
                doomed.append(sandbox)
                alive -= 1
        for sandbox in doomed:
            sandbox.kill()

    def _release(self, spec: FunctionSpec, sandbox: Sandbox | None, *, keep: bool) -> None:
        with self._lock:
            pool = self._pools[spec.arn]
            pool.in_flight -= 1
            if pool.waiting:
                # The environment (or its slot, if it ended) goes straight to the next in line.
                ticket = pool.waiting.popleft()
                ticket.sandbox = sandbox if keep and sandbox is not None and sandbox.spec == spec else None
                if sandbox is not None and ticket.sandbox is None:
                    sandbox.kill()
                ticket.ready.set()
                return
            pool.running -= 1
            if keep and sandbox is not None:
                pool.idle.append(sandbox)
            elif sandbox is not None:
                sandbox.kill()

    def _ensure_zygote(self) -> Zygote:
        with self._zygote_lock:
            if self._zygote is not None and self._zygote.process.poll() is not None:
                self._zygote = None  # it died (killed from outside): start another
            if self._zygote is None:
                self._zygote = Zygote(
                    project_root=self._project_root,
                    pycache_dir=self._settings.state_dir.resolve() / "pycache",
                )
            return self._zygote

    # -- what an invocation returns and logs ----------------------------------------------------
    def _result(
        self,
        spec: FunctionSpec,
        log_stream: str,
        memory_mb: int,
        request_id: str,
        init: Outcome | None,
        outcome: Outcome | None,
    ) -> InvocationResult:
        lines: list[tuple[int, str]] = []
        init_ms: float | None = None
        if init is not None:
            init_ms = init.duration_ms
            lines.append(
                (now_ms(), f"INIT_START Runtime Version: {_RUNTIME_VERSION.format(runtime=spec.runtime)}")
            )
            lines += init.logs
            if init.error is not None:
                lines.append(
                    (
                        now_ms(),
                        f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: error"
                        f"\tError Type: {init.error['errorType']}",
                    )
                )
        lines.append((now_ms(), f"START RequestId: {request_id} Version: {spec.version}"))
        final = outcome
        if outcome is None:  # INIT failed or timed out: that is the invocation's answer
            final = init
            assert final is not None
            if final.timed_out:
                final.error = timeout_error(request_id, self._init_timeout)
            final.duration_ms = 0.0
        assert final is not None
        if outcome is not None:
            lines += outcome.logs
            if outcome.timed_out:
                outcome.error = timeout_error(request_id, spec.timeout)
                lines.append(
                    (now_ms(), f"{iso_now()} {request_id} Task timed out after {spec.timeout:.2f} seconds")
                )
        lines.append((now_ms(), f"END RequestId: {request_id}"))
        lines.append((now_ms(), report_line(spec, request_id, final, init_ms, memory_mb)))
        ship_logs(spec, log_stream, lines)
        if final.error is not None:
            payload = error_payload(final.error)
        elif final.binary:
            payload = (final.payload or "").encode("latin-1")
        else:
            payload = (final.payload or "null").encode("utf-8")
        return InvocationResult(
            request_id=request_id,
            payload=payload,
            function_error=UNHANDLED if final.error is not None else None,
            log_text="\n".join(line for _, line in lines),
            duration_ms=final.duration_ms,
        )


def _layer_paths(layers: Sequence[Path]) -> list[str]:
    """Where a layer's Python code is, as Lambda puts it on the path: /opt/python and its site-packages."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    paths = []
    for layer in layers:
        for candidate in (Path(layer) / "python", Path(layer) / "python" / "lib" / version / "site-packages"):
            if candidate.is_dir():
                paths.append(str(candidate.resolve()))
    return paths


def _unqualified(function_arn: str) -> str:
    # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
    return ":".join(function_arn.split(":")[:7])
