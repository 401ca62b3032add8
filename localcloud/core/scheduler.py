"""The scheduler of localcloud's asynchronous work: deliveries, retries and polls, in due-time order."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# Runner threads: a job may block while a handler runs (a delivery, a poll), so several run at once.
MAX_RUNNERS = 64


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    fn: Callable[[], object] = field(compare=False)
    name: str = field(compare=False, default="")
    key: str | None = field(compare=False, default=None)
    background: bool = field(compare=False, default=False)


class Scheduler:
    """Runs submitted jobs when they fall due, on a pool of runner threads.

    Jobs with the same `key` never run at once: the second waits for the first (one poll of an
    event source mapping at a time, say). Jobs without a key run in parallel, as AWS's
    asynchronous paths (event delivery, retries, polling) do; none of them promises an order.
    """

    def __init__(
        self,
        *,
        on_error: Callable[[str, BaseException], None] | None = None,
        max_runners: int = MAX_RUNNERS,
    ) -> None:
        self._lock = threading.Lock()
        self._timer = threading.Condition(self._lock)
        self._work = threading.Condition(self._lock)
        self._jobs: list[_Job] = []  # by due time
        self._ready: deque[_Job] = deque()  # due, waiting for a runner
        self._deferred: dict[str, deque[_Job]] = {}  # due, waiting for their key's running job
        self._busy_keys: set[str] = set()
        self._foreground = 0  # jobs waiting for their time that someone is waiting for
        self._seq = itertools.count()
        self._running = 0
        self._idle_runners = 0
        self._runners: list[threading.Thread] = []
        self._max_runners = max_runners
        self._stopped = False
        self._on_error = on_error
        self._dispatcher = threading.Thread(target=self._dispatch, name="localcloud-scheduler", daemon=True)
        self._dispatcher.start()

    def submit(
        self,
        fn: Callable[[], object],
        *,
        delay: float = 0.0,
        name: str = "",
        key: str | None = None,
        background: bool = False,
    ) -> None:
        """Runs `fn` after `delay` seconds. A `background` job (a periodic sweep, a check on a throttled
        mapping) is nobody's pending work: until it runs, it does not keep the scheduler from idle."""
        job = _Job(time.monotonic() + max(delay, 0.0), next(self._seq), fn, name, key, background)
        with self._lock:
            heapq.heappush(self._jobs, job)
            if not background:
                self._foreground += 1
            if self._jobs[0] is job:
                self._timer.notify()

    def idle(self, *, within: float = 0.0) -> bool:
        """No job is running or waiting, and none is due within `within` seconds."""
        with self._lock:
            return self._idle_locked(within)

    def _idle_locked(self, within: float) -> bool:
        if self._running or self._ready or any(self._deferred.values()):
            return False
        if not self._foreground:
            return True
        horizon = time.monotonic() + within
        return not any(job.due <= horizon for job in self._jobs if not job.background)

    def wait_idle(self, timeout: float = 30.0, *, within: float = 0.0) -> bool:
        """Blocks until idle (see idle()); returns False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle(within=within):
                return True
            time.sleep(0.01)
        return self.idle(within=within)

    def pending(self) -> int:
        with self._lock:
            deferred = sum(len(jobs) for jobs in self._deferred.values())
            return len(self._jobs) + len(self._ready) + deferred + self._running

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._timer.notify_all()
            self._work.notify_all()
        self._dispatcher.join(timeout=5)

    # -- the dispatcher: moves due jobs to the runners ------------------------------------------
    def _dispatch(self) -> None:
        with self._lock:
            while not self._stopped:
                if not self._jobs:
                    self._timer.wait()
                    continue
                wait = self._jobs[0].due - time.monotonic()
                if wait > 0:
                    self._timer.wait(wait)
                    continue
                job = heapq.heappop(self._jobs)
                if not job.background:
                    self._foreground -= 1
                if job.key is not None and job.key in self._busy_keys:
                    self._deferred.setdefault(job.key, deque()).append(job)
                    continue
                if job.key is not None:
                    self._busy_keys.add(job.key)
                self._hand_over(job)

    def _hand_over(self, job: _Job, *, spawn: bool = True) -> None:
        """Queues a due job for a runner, starting one if none is free. Called with the lock held."""
        self._ready.append(job)
        if not spawn or self._idle_runners >= len(self._ready):
            self._work.notify()
        elif len(self._runners) < self._max_runners:
            runner = threading.Thread(
                target=self._run, name=f"localcloud-runner-{len(self._runners)}", daemon=True
            )
            self._runners.append(runner)
            runner.start()

    # -- the runners ----------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._ready and not self._stopped:
                    self._idle_runners += 1
                    self._work.wait()
                    self._idle_runners -= 1
                if self._stopped:
                    return
                job = self._ready.popleft()
                self._running += 1
            try:
                job.fn()
            except BaseException as error:  # a failing job must never stop a runner
                if self._on_error:
                    self._on_error(job.name, error)
                else:
                    traceback.print_exc()
            finally:
                with self._lock:
                    self._running -= 1
                    if job.key is not None:
                        waiting = self._deferred.get(job.key)
                        if waiting:
                            # This runner takes it next, unless an idle one is quicker.
                            self._hand_over(waiting.popleft(), spawn=False)
                        else:
                            self._deferred.pop(job.key, None)
                            self._busy_keys.discard(job.key)
