"""The fault suite: orders and trials under injected faults, then one test per invariant.

`make test` runs the reduced run (20 orders, 5 trials); `make faults` the full one (FAULTS=full:
200 orders, 30 trials) and prints the table (FAULTS_PRINT=1 prints it for the reduced run too,
FAULTS_TABLE=<file> writes it). The seed is fixed (FAULTS_SEED to change it).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.driver import Driver
from tests.faults.invariants import INVARIANTS, Invariant
from tests.faults.plan import FULL, REDUCED, Run
from tests.faults.report import render
from tests.faults.snapshot import Reader, Snapshot
from tests.local.conftest import Local

pytestmark = pytest.mark.local


@dataclass(frozen=True)
class Outcome:
    run: Run
    snapshot: Snapshot
    verdicts: dict[str, list[str]]
    table: str


@pytest.fixture(scope="module")
def outcome(fault_cloud: Local, request: pytest.FixtureRequest) -> Outcome:
    # Given a fresh localcloud, and a scale (reduced in `make test`, full in `make faults`)
    scale = FULL if os.environ.get("FAULTS") == "full" else REDUCED
    if os.environ.get("FAULTS_SEED"):
        scale = dataclasses.replace(scale, seed=int(os.environ["FAULTS_SEED"]))
    # When the orders and trials run through it with faults injected, and it is read back
    run = Driver(fault_cloud, scale).go()
    snapshot = Reader(fault_cloud).take()
    verdicts = {invariant.name: invariant.check(run, snapshot) for invariant in INVARIANTS}
    table = render(run, snapshot, verdicts)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if (
        reporter is not None
        and capture is not None
        and (scale.name == "full" or os.environ.get("FAULTS_PRINT"))
    ):
        with capture.global_and_fixture_disabled():  # the table goes to the terminal, not the captured output
            reporter.write_line("")
            reporter.write_line(table)
    if os.environ.get("FAULTS_TABLE"):
        Path(os.environ["FAULTS_TABLE"]).write_text(table + "\n")
    return Outcome(run, snapshot, verdicts, table)


@pytest.mark.parametrize("invariant", INVARIANTS, ids=[i.name for i in INVARIANTS])
def test_invariant_holds_under_faults(outcome: Outcome, invariant: Invariant) -> None:
    # Then the invariant holds; else its offenders are listed, with the run's table
    offenders = outcome.verdicts[invariant.name]
    listed = "\n".join(f"  - {o}" for o in offenders[:30])
    assert not offenders, f"{invariant.doc}\n{len(offenders)} offender(s):\n{listed}\n\n{outcome.table}"


def test_the_faults_were_injected(outcome: Outcome) -> None:
    # Then the run really was hostile: each kind of fault hit at least once (the reduced run is too
    # short for a 10 % duplicate to hit a queue or stream batch every time)
    hit = {f"{f['effect']}/{f['kind']}" for f in outcome.run.faults if f.get("hits")}
    expected = {"error/function", "throttle/function", "duplicate/rule"}
    if outcome.run.scale.name == "full":
        expected |= {"duplicate/queue", "duplicate/stream", "fail/service"}
    assert expected <= hit, f"faults never hit: {sorted(expected - hit)}\n\n{outcome.table}"
    assert outcome.run.poison_messages and outcome.run.malformed_entries and outcome.run.replayed
    # And there was something to forge: an unfinished order, and a live trial with an environment
    assert outcome.run.forged_orders and outcome.run.forged_trials, outcome.table
