"""Claims one warm environment per trial, never the same one twice; no AWS here, only the Pool port."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

# The contract's trial id (shared.contracts.trials.TRIAL_ID_PATTERN), repeated so that this synchronous
# step of the workflow does not import pydantic on a cold start; a unit test keeps the two in step.
TRIAL_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class PoolEmpty(Exception):  # the class name is the errorType the state machine catches
    """No warm environment is left for the trial: the workflow catches `PoolEmpty` and fails the trial."""


class InvalidPoolRequest(ValueError):
    """The invocation is not `{"action": "claim", "trialId": <trial id>}`."""


@dataclass(frozen=True)
class Environment:
    """A trial environment: the pool item's key and its CloudFormation stack."""

    environment_id: str
    stack_name: str

    def as_json(self) -> dict[str, str]:
        return {"environmentId": self.environment_id, "stackName": self.stack_name}


class Pool(Protocol):
    """The pool table."""

    def claimed_by(self, trial_id: str) -> Environment | None:
        """The environment already CLAIMED for this trial, if any."""
        ...

    def warm_oldest_first(self) -> Iterable[str]:
        """Ids of WARM environments, oldest first (read lazily: a claim usually needs the first)."""
        ...

    def try_claim(self, environment_id: str, *, trial_id: str, claimed_at: str) -> Environment | None:
        """Atomically WARM -> CLAIMED for the trial; None when it is no longer WARM (someone was faster)."""
        ...


def parse_claim(event: Mapping[str, Any]) -> str:
    """The trial id of a claim request, or InvalidPoolRequest."""
    action, trial_id = event.get("action"), event.get("trialId")
    if action != "claim" or not isinstance(trial_id, str) or not re.match(TRIAL_ID_PATTERN, trial_id):
        raise InvalidPoolRequest(
            f'expected {{"action": "claim", "trialId": <uuid>}}, got action={action!r} trialId={trial_id!r}'
        )
    return trial_id


def claim(trial_id: str, *, pool: Pool, now: str) -> Environment:
    """The trial's environment: the one it already has (a retried step), else the oldest WARM one.

    Two concurrent claims may read the same candidates; the conditional update lets only one of them
    take each, and the other moves on to the next.
    """
    already = pool.claimed_by(trial_id)
    if already is not None:
        return already
    for environment_id in pool.warm_oldest_first():
        claimed = pool.try_claim(environment_id, trial_id=trial_id, claimed_at=now)
        if claimed is not None:
            return claimed
    raise PoolEmpty(f"no warm environment for trial {trial_id}")
