"""The trial side of the environment manager: re-checks before destroying, and the stuck-trial sweep.

No AWS here: the trials table is a port. Events are claims about the table; the table is the truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from environment_manager.service import DeletionWait, Environments, retire_environments

# Statuses a trial can leave no more (EXPIRED is never stored: TTL deletes the row).
FINAL: frozenset[str] = frozenset({"ASSIGNED", "FAILED", "NEEDS_ATTENTION"})


@dataclass(frozen=True)
class TrialRecord:
    """What the re-checks need of a trial row."""

    status: str
    expires_at: int


class TrialsTable(Protocol):
    """The trials table."""

    def get(self, trial_id: str) -> TrialRecord | None:
        """The row, read consistently; None when it does not exist (TTL removed it, or it never did)."""
        ...

    def mark_failed(self, trial_id: str) -> bool:
        """REQUESTED/NEEDS_ATTENTION -> FAILED; False when the row is gone or in another status."""
        ...

    def requested_before(self, requested_at: int) -> Iterable[str]:
        """Ids of trials still REQUESTED that were requested before then (candidates, from an index)."""
        ...

    def mark_needs_attention(self, trial_id: str, *, requested_before: int, reason: str) -> bool:
        """REQUESTED -> NEEDS_ATTENTION if still so and requested before then; False otherwise."""
        ...


class Metrics(Protocol):
    """Operational metrics of the manager (EMF)."""

    def count(self, name: str, value: int) -> None: ...


class TrialNotExpired(Exception):
    """A TrialExpired for a trial the table still holds unexpired: refused, nothing is deleted.

    Raised, so that the event ends in the function's OnFailure DLQ for an operator to look at."""


class TrialNotFailed(Exception):
    """A TrialAssignmentFailed for a trial the table holds ASSIGNED: refused, nothing is deleted."""


def expire_trial(
    trial_id: str, *, trials: TrialsTable, envs: Environments, now: int, wait: DeletionWait
) -> list[str]:
    """TrialExpired: deletes the trial's environments, if the table agrees that the trial is over.

    The stream publishes TrialExpired when TTL removes the row; a row that is still there and not past
    its `expiresAt` means the event is not the table's (forged, or replayed for a trial requested
    again), so nothing is deleted and the event is parked.
    """
    row = trials.get(trial_id)
    if row is not None and row.expires_at > now:
        raise TrialNotExpired(
            "TrialExpired refused: the trials table holds this trial unexpired (consistent read); "
            "nothing was deleted"
        )
    return retire_environments(trial_id, envs=envs, wait=wait)


def fail_trial(
    trial_id: str, *, trials: TrialsTable, envs: Environments, wait: DeletionWait
) -> tuple[bool, list[str]]:
    """TrialAssignmentFailed: the row becomes FAILED (if it still exists) and whatever environment was
    claimed for it is deleted, unless the table says the trial is ASSIGNED. Returns (marked, retired)."""
    row = trials.get(trial_id)
    if row is not None and row.status == "ASSIGNED":
        raise TrialNotFailed(
            "TrialAssignmentFailed refused: the trials table holds this trial ASSIGNED (consistent read); "
            "nothing was deleted"
        )
    marked = row is not None and trials.mark_failed(trial_id)
    return marked, retire_environments(trial_id, envs=envs, wait=wait)


def sweep_stuck_trials(
    *, trials: TrialsTable, metrics: Metrics, now: int, deadline_seconds: int
) -> list[str]:
    """Trials still REQUESTED `deadline_seconds` after their request become NEEDS_ATTENTION.

    The assignment workflow times out well before that deadline, so such a trial was lost on the way
    (an event that never arrived, a workflow that could not report). The count goes out as a metric
    every run, 0 included, and an alarm on it tells the operators.
    """
    cutoff = now - deadline_seconds
    moved = [
        trial_id
        for trial_id in list(trials.requested_before(cutoff))
        if trials.mark_needs_attention(
            trial_id,
            requested_before=cutoff,
            reason=f"still REQUESTED {deadline_seconds} s after the request",
        )
    ]
    metrics.count("TrialsNeedingAttention", len(moved))
    return moved
