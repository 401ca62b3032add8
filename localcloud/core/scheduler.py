"""The shared machinery of localcloud: settings, the clock, the scheduler of async work, the trace."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """How this localcloud runs: where it listens, and whether AWS's delays are compressed."""

    host: str = "127.0.0.1"
    port: int = 4566
    region: str = REGION
    account_id: str = ACCOUNT_ID
    # LOCALCLOUD_FAST=1: retry back-offs, Step Functions waits and polling intervals shrink so
    # tests and demos settle in seconds; without it they follow AWS's defaults.
    fast: bool = False
    fast_factor: float = 0.001

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def delay(self, seconds: float) -> float:
        """A delay AWS would wait, as this localcloud waits it."""
        return seconds * self.fast_factor if self.fast else seconds


class Clock:
    """Wall time plus an offset that `POST /_localcloud/clock` advances, so expiry can be shown now."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[float], None]] = []

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> float:
        """Moves local time forward; listeners (e.g. the TTL sweeper) run right away. Returns now()."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += seconds
            listeners = list(self._listeners)
        now = self.now()
        for listener in listeners:
            listener(now)
        return now

    def on_advance(self, listener: Callable[[float], None]) -> None:
        with self._lock:
            self._listeners.append(listener)


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    fn: Callable[[], None] = field(compare=False)
    name: str = field(compare=False, default="")


class Scheduler:
    """One worker thread runs every asynchronous delivery in due-time order.

    One thread on purpose: moto's backends are not thread-safe, and AWS's async paths (event
    delivery, Lambda async retries, queue polling) have no ordering guarantee a single ordered
    worker would break. Handlers it runs call back into localcloud over HTTP, served by other threads.
    """

    def __init__(self, *, on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._running = 0
        self._stopped = False
        self._on_error = on_error
        self._thread = threading.Thread(target=self._loop, name="localcloud-scheduler", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], None], *, delay: float = 0.0, name: str = "") -> None:
        with self._cv:
            heapq.heappush(self._jobs, _Job(time.monotonic() + max(delay, 0.0), next(self._seq), fn, name))
            self._cv.notify_all()

    def idle(self, *, within: float = 0.0) -> bool:
        """No job is running and none is due within `within` seconds."""
        with self._cv:
            return self._running == 0 and (not self._jobs or self._jobs[0].due > time.monotonic() + within)

    def wait_idle(self, timeout: float = 30.0, *, within: float = 0.0) -> bool:
        """Blocks until idle (see idle()); returns False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle(within=within):
                return True
            time.sleep(0.01)
        return self.idle(within=within)

    def pending(self) -> int:
        with self._cv:
            return len(self._jobs) + self._running

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._jobs or self._jobs[0].due > time.monotonic()):
                    timeout = None if not self._jobs else max(self._jobs[0].due - time.monotonic(), 0)
                    self._cv.wait(timeout)
                if self._stopped:
                    return
                job = heapq.heappop(self._jobs)
                self._running += 1
            try:
                job.fn()
            except BaseException as error:  # a failing job must never stop the worker
                if self._on_error:
                    self._on_error(job.name, error)
                else:
                    traceback.print_exc()
            finally:
                with self._cv:
                    self._running -= 1
                    self._cv.notify_all()


class Trace:
    """A readable trace of every event and delivery: printed, and kept for `GET /_localcloud/trace`."""

    def __init__(self, *, stream: TextIO | None = None, keep: int = 20_000) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._keep = keep
        self._seq = itertools.count(1)

    def emit(self, kind: str, message: str, **fields: Any) -> None:
        record = {"seq": next(self._seq), "time": time.time(), "kind": kind, "message": message, **fields}
        with self._lock:
            self._records.append(record)
            if len(self._records) > self._keep:
                del self._records[: len(self._records) - self._keep]
            if self._stream is not None:
                stamp = time.strftime("%H:%M:%S", time.localtime(record["time"]))
                print(f"{stamp} {kind:<10} {message}", file=self._stream, flush=True)

    def records(self, *, since: int = 0, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self._records if r["seq"] > since and (kind is None or r["kind"] == kind)]
