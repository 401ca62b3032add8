"""Execution environments as localcloud sees them: worker processes forked by the zygote, and their calls."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.lambda_.protocol import Channel, ChannelClosed
from localcloud.lambda_.zygote import PID

# What the zygote keeps of localcloud's environment (workers get their function's environment).
_ZYGOTE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR", "VIRTUAL_ENV")


@dataclass(frozen=True)
class FunctionSpec:
    """What an execution environment is built from: a change to any of it means new environments."""

    arn: str
    name: str
    version: str
    handler: str
    runtime: str
    code_dir: str
    layers: tuple[str, ...]  # directories the function's layers put on sys.path, after its own code
    env: tuple[tuple[str, str], ...]
    timeout: float
    memory: int
    log_group: str


@dataclass
class Outcome:
    """What one phase (INIT, or an invocation) of a worker produced."""

    payload: str | None = None  # the handler's answer: JSON text, or latin-1 text of bytes
    binary: bool = False
    error: dict[str, Any] | None = None
    timed_out: bool = False
    reset: bool = False  # the environment is gone (Lambda discards it after init errors, timeouts, exits)
    duration_ms: float = 0.0
    memory_mb: int = 0
    logs: list[tuple[int, str]] = field(default_factory=list)


class Zygote:
    """The process that forks workers (see `localcloud.lambda_.zygote`), started once per localcloud."""

    def __init__(self, *, project_root: Path, pycache_dir: Path) -> None:
        pycache_dir.mkdir(parents=True, exist_ok=True)
        self._control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = {key: os.environ[key] for key in _ZYGOTE_ENV if key in os.environ}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localcloud.lambda_.zygote",
                str(theirs.fileno()),
                str(project_root),
                str(pycache_dir),
            ],
            pass_fds=[theirs.fileno()],
            cwd=project_root,
            env=env,
            stdin=subprocess.DEVNULL,
            # Its own session: Ctrl-C in the terminal is for localcloud, which then stops the workers.
            start_new_session=True,
        )
        theirs.close()
        self._lock = threading.Lock()

    def fork(self) -> tuple[int, socket.socket]:
        """A new worker process: its pid, and the socket to talk to it."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                socket.send_fds(self._control, [b"w"], [theirs.fileno()])
                answer = b""
                while len(answer) < PID.size:
                    chunk = self._control.recv(PID.size - len(answer))
                    if not chunk:
                        raise RuntimeError("the Lambda zygote process exited")
                    answer += chunk
        finally:
            theirs.close()
        return int(PID.unpack(answer)[0]), mine

    def stop(self) -> None:
        """Ends the zygote at once (it keeps nothing); its workers end as their sockets close."""
        self._control.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Sandbox:
    """One execution environment of one function: a worker process, cold until INIT has run."""

    def __init__(self, zygote: Zygote, spec: FunctionSpec, *, log_stream: str, project_root: Path) -> None:
        self.spec = spec
        self.log_stream = log_stream
        self.initialized = False
        self.dead = False
        self.memory_mb = 0  # the worker's peak memory, as it last reported it
        self.last_used = time.monotonic()
        self.pid, sock = zygote.fork()
        self._channel = Channel(sock)
        self._project_root = str(project_root)

    def init(self, timeout: float) -> Outcome:
        """Runs INIT (imports the handler); an outcome with `error` if it failed."""
        spec = self.spec
        function = {
            "name": spec.name,
            "version": spec.version,
            "handler": spec.handler,
            "runtime": spec.runtime,
            "code_dir": spec.code_dir,
            "layers": list(spec.layers),
            "env": dict(spec.env),
            "memory": spec.memory,
            "log_group": spec.log_group,
            "log_stream": self.log_stream,
            "project_root": self._project_root,
        }
        outcome = self._exchange({"op": "init", "function": function}, timeout)
        if outcome.error is not None or outcome.timed_out:
            outcome.reset = True
        else:
            self.initialized = True
        return outcome

    def invoke(self, request_id: str, event: str, *, invoked_arn: str) -> Outcome:
        timeout = self.spec.timeout
        deadline_ms = int((time.time() + timeout) * 1000)
        message = {
            "op": "invoke",
            "request_id": request_id,
            "event": event,
            "deadline_ms": deadline_ms,
            "invoked_arn": invoked_arn,
        }
        outcome = self._exchange(message, timeout)
        self.last_used = time.monotonic()
        return outcome

    def _exchange(self, message: dict[str, Any], timeout: float) -> Outcome:
        """Sends one request and collects its log lines and its answer, killing the worker at the deadline."""
        outcome = Outcome()
        started = time.monotonic()
        deadline = started + timeout
        try:
            self._channel.send(message)
            while True:
                answer = self._channel.receive(max(deadline - time.monotonic(), 0.001))
                if answer["op"] == "log":
                    outcome.logs.append((answer["time"], answer["line"]))
                    continue
                break
        except TimeoutError:
            self.kill()
            outcome.timed_out = outcome.reset = True
            outcome.duration_ms = timeout * 1000
            return outcome
        except ChannelClosed:
            self.kill()
            outcome.error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": "Runtime exited without providing a reason",
            }
            outcome.reset = True
            outcome.duration_ms = (time.monotonic() - started) * 1000
            return outcome
        if answer["op"] == "init_done":
            outcome.error = answer.get("error")
            outcome.duration_ms = float(answer.get("init_ms", 0.0))
            return outcome
        outcome.payload = answer.get("payload")
        outcome.binary = bool(answer.get("binary"))
        outcome.error = answer.get("error")
        outcome.duration_ms = float(answer.get("duration_ms", 0.0))
        outcome.memory_mb = self.memory_mb = int(answer.get("memory_mb", 0))
        if answer.get("exit"):
            outcome.reset = True
            self.dead = True
        return outcome

    def kill(self) -> None:
        """Ends the worker at once, as Lambda discards an environment."""
        if not self.dead:
            self.dead = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self._channel.close()


def event_text(event: Any) -> str:
    """An event as the JSON text a worker receives."""
    if isinstance(event, bytes | bytearray):
        event = bytes(event).decode("utf-8")
    if isinstance(event, str):
        return event
    return json.dumps(event, separators=(",", ":"))
