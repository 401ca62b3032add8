"""Claims one warm environment per trial, recorded on the trial row; no AWS here, only the Claims port."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from shared.pool_table import PoolItem

# The contract's trial id (shared.contracts.trials.TRIAL_ID_PATTERN), repeated so that this synchronous
# step of the workflow does not import pydantic on a cold start; a unit test keeps the two in step.
TRIAL_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class PoolEmpty(Exception):  # the class name is the errorType the state machine catches
    """No warm environment is left for the trial: the workflow catches `PoolEmpty` and fails the trial."""


class TrialNotClaimable(Exception):
    """The trial row is gone or no longer REQUESTED (and holds no environment): nothing to assign."""


class ClaimConflict(Exception):
    """Another write to the trial row was in flight: the workflow retries the step (`ClaimConflict`)."""


class InvalidPoolRequest(ValueError):
    """The invocation is not `{"action": "claim", "trialId": <trial id>}`."""


@dataclass(frozen=True)
class TrialRow:
    """What a claim needs of the trial row: its status and the environment recorded on it."""

    status: str
    environment_id: str | None = None


class Outcome(Enum):
    """What a transactional claim of one environment for one trial came to."""

    CLAIMED = "claimed"  # the environment is CLAIMED and recorded on the trial row, in one transaction
    TAKEN = "taken"  # the environment is no longer WARM (someone was faster): try the next one
    TRIAL_CHANGED = "trial-changed"  # the trial row is not REQUESTED without an environment any more
    CONFLICT = "conflict"  # a concurrent transaction on the trial row: try again shortly


class Claims(Protocol):
    """The pool table and the trial rows, as a claim sees them."""

    def trial(self, trial_id: str) -> TrialRow | None:
        """The trial row, read consistently; None when it does not exist."""
        ...

    def environment(self, environment_id: str) -> PoolItem | None: ...

    def warm_oldest_first(self) -> Iterable[str]:
        """Ids of WARM environments, oldest first (candidates only: the claim's condition decides)."""
        ...

    def try_claim(self, environment_id: str, *, trial_id: str, claimed_at: str) -> Outcome:
        """In one transaction: the environment WARM -> CLAIMED for the trial, and the trial row
        REQUESTED -> ASSIGNED with `environmentId`, on the condition that it holds none yet."""
        ...


def parse_claim(event: Mapping[str, Any]) -> str:
    """The trial id of a claim request, or InvalidPoolRequest (which names no input value)."""
    action, trial_id = event.get("action"), event.get("trialId")
    if action != "claim" or not isinstance(trial_id, str) or not re.match(TRIAL_ID_PATTERN, trial_id):
        raise InvalidPoolRequest('expected {"action": "claim", "trialId": <trial id, a lowercase uuid>}')
    return trial_id


def claim(trial_id: str, *, claims: Claims, now: str) -> PoolItem:
    """The trial's environment: the one recorded on its row (a retried step), else the oldest WARM one.

    The trial row is the one place that says which environment a trial has. It is read consistently,
    and the claim writes it in the same transaction as the pool item, on the condition that it holds
    no environment yet: a retried or duplicated claim can therefore never take a second environment,
    and two trials racing for one environment leave it to exactly one of them.
    """
    row = claims.trial(trial_id)
    for candidate in claims.warm_oldest_first() if _claimable(row) else ():
        outcome = claims.try_claim(candidate, trial_id=trial_id, claimed_at=now)
        if outcome is Outcome.CLAIMED:
            claimed = claims.environment(candidate)
            assert claimed is not None, "a claimed environment is never deleted"
            return claimed
        if outcome is Outcome.CONFLICT:
            raise ClaimConflict("the trial row was being written concurrently; try again")
        if outcome is Outcome.TRIAL_CHANGED:
            row = claims.trial(trial_id)
            break
    if row is not None and row.environment_id is not None:
        recorded = claims.environment(row.environment_id)
        if recorded is not None:
            return recorded
    if not _claimable(row):
        raise TrialNotClaimable(f"trial {trial_id} is gone or no longer waiting for an environment")
    raise PoolEmpty(f"no warm environment for trial {trial_id}")


def _claimable(row: TrialRow | None) -> bool:
    return row is not None and row.status == "REQUESTED" and row.environment_id is None
