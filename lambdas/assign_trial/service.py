"""Starts the assignment workflow for a requested trial, once; no AWS here, only the Workflow port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shared.contracts.trials import TrialRequested


@dataclass(frozen=True)
class Started:
    """The execution for a trial, and whether this call started it (False: it already existed)."""

    execution_arn: str
    new: bool


class Workflow(Protocol):
    """The assignment state machine: one execution per name, a repeated name is not a second run."""

    def start(self, *, name: str, payload: str) -> Started: ...


def start_assignment(trial: TrialRequested, *, workflow: Workflow) -> Started:
    """Runs the workflow for the trial with the event's detail as input.

    The execution is named after the trial: Step Functions refuses a second execution of one name, so a
    redelivered TrialRequested (at-least-once) never assigns a second environment.
    """
    return workflow.start(name=trial.trialId, payload=trial.model_dump_json())
