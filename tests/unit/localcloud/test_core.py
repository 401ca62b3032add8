"""Tests for localcloud's core: the patch registry, the scheduler, the fair clock and the trace."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from localcloud.app import LocalCloud
from localcloud.core.clock import FairClock
from localcloud.core.patches import REGISTRY, PatchSet
from localcloud.core.scheduler import Scheduler
from localcloud.core.settings import Settings
from localcloud.core.trace import Trace
from tests.unit.localcloud.running_cloud import free_port

WAIT_SECONDS = 30


def every_patch_set(cloud: LocalCloud) -> list[PatchSet]:
    return [*cloud.patch_sets, cloud.event_sources.patches]


def current(patch_set: PatchSet) -> dict[str, Any]:
    values = {}
    for patch in patch_set.patches:
        owner, name = patch.resolve()
        values[patch.target] = (
            vars(owner).get(name) if isinstance(owner, type) else getattr(owner, name, None)
        )
    return values


def test_every_patch_targets_what_the_pinned_moto_has(tmp_path: Path) -> None:
    # Given every patch set localcloud declares
    cloud = LocalCloud(settings=Settings(port=free_port(), state_dir=tmp_path), quiet=True)

    # When each is checked against the installed packages
    problems = [problem for patch_set in every_patch_set(cloud) for problem in patch_set.check()]

    # Then every target exists (or, for additions, does not yet), each with its reason
    assert problems == []
    assert all(patch.why for patch_set in every_patch_set(cloud) for patch in patch_set.patches)


def test_starting_installs_every_patch_and_stopping_restores_moto(tmp_path: Path) -> None:
    # Given moto as it is
    cloud = LocalCloud(settings=Settings(port=free_port(), state_dir=tmp_path), quiet=True)
    before = {target: value for s in every_patch_set(cloud) for target, value in current(s).items()}

    # When localcloud starts, then stops
    cloud.start()
    during = {target: value for s in every_patch_set(cloud) for target, value in current(s).items()}
    installed = {s.name for s in REGISTRY.installed()}
    cloud.stop()
    after = {target: value for s in every_patch_set(cloud) for target, value in current(s).items()}

    # Then every target was replaced while it ran, and is moto's own again afterwards
    assert installed >= {s.name for s in every_patch_set(cloud)}
    assert all(during[target] is not before[target] for target in before)
    assert after == before and not REGISTRY.installed()


def test_two_patch_sets_may_not_patch_one_target() -> None:
    # Given a patch set installed
    first, second = PatchSet("first"), PatchSet("second")
    first.replace("localcloud.core.settings:REGION", "eu-west-1", why="test")
    second.replace("localcloud.core.settings:REGION", "eu-north-1", why="test")
    REGISTRY.install(first)
    try:
        # When another patches the same target, then it is refused
        with pytest.raises(RuntimeError, match="patched by 'first' already"):
            REGISTRY.install(second)
    finally:
        REGISTRY.restore(first)


def test_a_failing_patch_set_leaves_nothing_patched() -> None:
    # Given a set whose second patch names a target that does not exist
    from localcloud.core import settings

    patches = PatchSet("broken")
    patches.replace("localcloud.core.settings:REGION", "eu-west-1", why="test")
    patches.replace("localcloud.core.settings:NO_SUCH_THING", 1, why="test")

    # When it is installed, then it fails naming the target, and the first patch is undone
    with pytest.raises(RuntimeError, match="NO_SUCH_THING does not exist"):
        REGISTRY.install(patches)
    assert settings.REGION == "us-east-1" and not REGISTRY.installed()


def test_jobs_of_one_key_run_one_at_a_time_and_others_in_parallel() -> None:
    # Given a scheduler, and jobs that record how many of their kind run at once
    scheduler = Scheduler()
    lock = threading.Lock()
    running: dict[str, int] = {"keyed": 0, "free": 0}
    peak: dict[str, int] = {"keyed": 0, "free": 0}
    release = threading.Event()

    def job(kind: str) -> None:
        with lock:
            running[kind] += 1
            peak[kind] = max(peak[kind], running[kind])
        release.wait(WAIT_SECONDS)
        with lock:
            running[kind] -= 1

    # When three jobs share a key and three have none
    for _ in range(3):
        scheduler.submit(lambda: job("keyed"), key="same")
        scheduler.submit(lambda: job("free"))
    deadline = time.monotonic() + WAIT_SECONDS
    while running["free"] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    busy = scheduler.pending()
    release.set()
    settled = scheduler.wait_idle(WAIT_SECONDS)
    scheduler.stop()

    # Then the keyed ones ran one after another, the others side by side, and all count as pending
    assert peak == {"keyed": 1, "free": 3}
    assert busy == 6 and settled


def test_the_fair_clock_stands_still_while_work_waits_in_line() -> None:
    # Given a fair clock
    clock = FairClock()
    fair, real = clock.now(), time.monotonic()

    # When work waits in localcloud's queue for a fifth of a second
    with clock.waiting():
        time.sleep(0.2)

    # Then that time did not pass on it (all other time did)
    stood_still = (time.monotonic() - real) - (clock.now() - fair)
    assert stood_still >= 0.2 - 0.001
    assert clock.stood_still >= 0.2 - 0.001


def test_the_trace_keeps_the_newest_records_and_answers_a_tail() -> None:
    # Given a trace that keeps 100 records, and 250 emitted
    trace = Trace(keep=100)
    for n in range(250):
        trace.emit("event" if n % 2 else "match", f"record {n}", n=n)

    # When the whole trace, a tail and one kind are asked for
    everything = trace.records()
    tail = trace.records(since=240)
    last_two_events = trace.records(kind="event", limit=2)

    # Then the oldest fell off, and each answer is oldest first
    assert len(everything) == 100 and everything[0]["n"] == 150 and everything[-1]["n"] == 249
    assert [r["n"] for r in tail] == list(range(240, 250))
    assert [r["n"] for r in last_two_events] == [247, 249]
    assert trace.last == 250
