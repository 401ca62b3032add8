"""Step Functions for localcloud: moto's ASL interpreter, mended, timed as AWS times it, and traced.

The patch sets, each in its module:
- `shapes.py`: service integrations get their parameters and results in AWS's shape, so nested
  executions (`states:startExecution`, `.sync`, `.sync:2`) and every other integration work.
- `api.py`: UUID names for nameless executions, SendTaskFailure's cause, DescribeExecution's
  output, and StartSyncExecution for EXPRESS state machines.
- `timing.py`: AWS's timeout and heartbeat rules, fast mode, and deadlines on the fair clock.
- `executions.py`: running executions counted and traced; `.sync` parents wait for their child.
- `speed.py`: clients, JSONPath parsers and definitions built once, calls made in-process.
"""

from __future__ import annotations

from localcloud.core.clock import FairClock
from localcloud.core.http import WSGIApp
from localcloud.core.patches import PatchSet
from localcloud.core.settings import Settings
from localcloud.core.trace import Trace
from localcloud.stepfunctions.api import api_patches
from localcloud.stepfunctions.executions import Executions
from localcloud.stepfunctions.shapes import integration_patches
from localcloud.stepfunctions.speed import speed_patches
from localcloud.stepfunctions.timing import Deadlines, timing_patches


class StepFunctionsEmulation:
    """Builds the patch sets that make moto's interpreter run the app's workflows as AWS does."""

    def __init__(
        self,
        settings: Settings,
        trace: Trace,
        *,
        fair_clock: FairClock,
        app: WSGIApp,
    ) -> None:
        self.settings = settings
        self.trace = trace
        self.fair_clock = fair_clock
        self.app = app
        self.deadlines = Deadlines(
            fast=settings.fast,
            delay=settings.delay,
            min_task=settings.min_task_deadline,
            min_execution=settings.min_execution_deadline,
        )
        self.executions = Executions(trace)

    def running(self) -> int:
        """Executions running now."""
        return self.executions.count()

    def patches(self) -> list[PatchSet]:
        return [
            integration_patches(),
            api_patches(self.executions),
            timing_patches(self.deadlines, self.fair_clock),
            self.executions.patches(),
            speed_patches(self.app, self.settings.endpoint_url),
        ]
