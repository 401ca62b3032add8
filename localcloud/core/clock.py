"""Time as localcloud keeps it: a local clock that can be advanced, and a fair clock for deadlines."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Clock:
    """Wall time plus an offset that `POST /_localcloud/clock` advances, so expiry can be shown now."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[float], None]] = []

    def now(self) -> float:
        return time.time() + self._offset

    @property
    def offset(self) -> float:
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


class FairClock:
    """Monotonic seconds that stand still while work waits in localcloud's own queue.

    On AWS, Lambda scales out and an invocation starts at once; here an invocation may wait for
    one of the few worker processes this machine can run. Step Functions task timeouts and
    heartbeats are measured on this clock, so a task is never failed for time it spent waiting in
    localcloud's queue: while anything waits there, deadlines do not move.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting = 0
        self._since = 0.0  # monotonic time the current wait began
        self._stood_still = 0.0  # seconds the clock stood still before that

    def now(self) -> float:
        with self._lock:
            still = self._stood_still
            if self._waiting:
                still += time.monotonic() - self._since
        return time.monotonic() - still

    @property
    def stood_still(self) -> float:
        """Seconds this clock has stood still so far."""
        return time.monotonic() - self.now()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """The block is work waiting in localcloud's queue: the clock stands still meanwhile."""
        with self._lock:
            if not self._waiting:
                self._since = time.monotonic()
            self._waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1
                if not self._waiting:
                    self._stood_still += time.monotonic() - self._since

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """`event.wait(timeout)`, the timeout counted on this clock."""
        if timeout is None:
            return event.wait()
        deadline = self.now() + timeout
        while True:
            remaining = deadline - self.now()
            if remaining <= 0:
                return event.is_set()
            # Real time passes at least as fast as this clock: waking early is impossible.
            if event.wait(remaining):
                return True
