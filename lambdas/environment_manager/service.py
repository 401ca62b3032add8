"""Keeps the pool of trial environments: creates warm stacks, retires those of expired or failed trials.

No AWS here, only three ports: the CloudFormation stacks, the pool table and the trials table.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

PoolStatus = Literal["WARM", "CLAIMED", "DELETING", "DELETED", "FAILED"]
# Statuses whose stack must (still) go when the trial ends: DELETING and FAILED are earlier attempts.
RETIRABLE: frozenset[str] = frozenset({"CLAIMED", "DELETING", "FAILED"})
# Names replacement environments after the trial whose claim they replace (see `replacement_id`).
REPLACEMENT_NAMESPACE = uuid.UUID("6f0e7d1c-3b0a-4c8e-9a55-2d7f1e0c9b41")
DELETION_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class PoolItem:
    """One environment of the pool."""

    environment_id: str
    stack_name: str
    status: PoolStatus
    trial_id: str | None = None


@dataclass(frozen=True)
class StackState:
    """What CloudFormation says about a stack."""

    status: str
    reason: str = ""


class Stacks(Protocol):
    """CloudFormation stacks of trial environments, all from the one template."""

    def create(self, *, stack_name: str, environment_id: str) -> bool:
        """Starts creating the stack; False when a stack of that name exists already."""
        ...

    def delete(self, stack_name: str) -> None:
        """Starts deleting the stack (nothing to do when it does not exist)."""
        ...

    def state(self, stack_name: str) -> StackState | None:
        """The stack's status, or None when it does not exist (any more)."""
        ...


class PoolTable(Protocol):
    """The pool table."""

    def add_warm(self, *, environment_id: str, stack_name: str, created_at: str) -> bool:
        """Adds a WARM item; False when an item with that id exists already."""
        ...

    def count_warm(self) -> int: ...

    def of_trial(self, trial_id: str) -> list[PoolItem]:
        """The environments ever claimed for the trial."""
        ...

    def set_status(self, environment_id: str, status: PoolStatus, *, reason: str | None = None) -> None: ...


class TrialsTable(Protocol):
    """The trials table."""

    def mark_failed(self, trial_id: str) -> bool:
        """Sets the row's status to FAILED; False when the row is gone (TTL removed it)."""
        ...


class StackDeletionFailed(RuntimeError):
    """CloudFormation could not delete a trial stack: raised so that Lambda retries, then parks the event."""


class StackDeletionPending(RuntimeError):
    """A trial stack was still being deleted when the time ran out: raised so that Lambda tries again."""


@dataclass(frozen=True)
class DeletionWait:
    """How long a deletion may be watched in this invocation (monotonic deadline), and how."""

    deadline: float
    poll_seconds: float = DELETION_POLL_SECONDS
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    @classmethod
    def within(
        cls,
        seconds: float,
        *,
        poll_seconds: float = DELETION_POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> DeletionWait:
        """A wait that ends `seconds` from now."""
        return cls(
            deadline=monotonic() + max(seconds, 0.0),
            poll_seconds=poll_seconds,
            sleep=sleep,
            monotonic=monotonic,
        )


def stack_name_for(environment_id: str, *, prefix: str) -> str:
    return f"{prefix}-{environment_id}"


def new_environment_id() -> str:
    """12 hex characters: short enough for stack and bucket names, unique enough for a pool."""
    return uuid.uuid4().hex[:12]


def replacement_id(trial_id: str) -> str:
    """The id of the environment that replaces the one a trial claimed: the same for every delivery of
    its TrialAssigned (and for a replay from the archive), so a repeat creates nothing new."""
    return uuid.uuid5(REPLACEMENT_NAMESPACE, trial_id).hex[:12]


def create_environment(
    environment_id: str, *, stacks: Stacks, pool: PoolTable, stack_prefix: str, created_at: str
) -> PoolItem:
    """Starts the environment's stack and puts it in the pool as WARM.

    Both steps tolerate having been done before (the stack exists, the item exists), so a retry after a
    failure between them finishes the job instead of failing or doubling it.
    """
    stack_name = stack_name_for(environment_id, prefix=stack_prefix)
    stacks.create(stack_name=stack_name, environment_id=environment_id)
    pool.add_warm(environment_id=environment_id, stack_name=stack_name, created_at=created_at)
    return PoolItem(environment_id=environment_id, stack_name=stack_name, status="WARM")


def replace_claimed(
    trial_id: str, *, stacks: Stacks, pool: PoolTable, stack_prefix: str, created_at: str
) -> PoolItem:
    """TrialAssigned: one new warm environment for the one the trial took."""
    return create_environment(
        replacement_id(trial_id), stacks=stacks, pool=pool, stack_prefix=stack_prefix, created_at=created_at
    )


def refill(
    *,
    pool_size: int,
    stacks: Stacks,
    pool: PoolTable,
    stack_prefix: str,
    created_at: str,
    new_id: Callable[[], str] = new_environment_id,
) -> list[PoolItem]:
    """Creates as many environments as the pool lacks to have `pool_size` WARM ones."""
    missing = max(pool_size - pool.count_warm(), 0)
    return [
        create_environment(
            new_id(), stacks=stacks, pool=pool, stack_prefix=stack_prefix, created_at=created_at
        )
        for _ in range(missing)
    ]


def retire_environments(trial_id: str, *, stacks: Stacks, pool: PoolTable, wait: DeletionWait) -> list[str]:
    """Deletes the stack of every environment the trial holds: DELETING, delete, DELETED.

    Raises StackDeletionFailed (the item is then FAILED) or StackDeletionPending (still DELETING), so
    that the invocation fails and is retried, and in the end parked; an environment already DELETED is
    left alone, which makes a redelivered event harmless.
    """
    retired: list[str] = []
    for item in pool.of_trial(trial_id):
        if item.status not in RETIRABLE:
            continue
        pool.set_status(item.environment_id, "DELETING")
        stacks.delete(item.stack_name)
        state = _wait_for_deletion(item.stack_name, stacks=stacks, wait=wait)
        if state is not None and state.status == "DELETE_FAILED":
            pool.set_status(item.environment_id, "FAILED", reason=state.reason or "DELETE_FAILED")
            raise StackDeletionFailed(
                f"stack {item.stack_name} of environment {item.environment_id} (trial {trial_id}) "
                f"could not be deleted: {state.reason or 'DELETE_FAILED'}"
            )
        if state is not None:
            raise StackDeletionPending(
                f"stack {item.stack_name} of environment {item.environment_id} (trial {trial_id}) "
                f"is still {state.status}"
            )
        pool.set_status(item.environment_id, "DELETED")
        retired.append(item.environment_id)
    return retired


def fail_trial(
    trial_id: str, *, trials: TrialsTable, stacks: Stacks, pool: PoolTable, wait: DeletionWait
) -> tuple[bool, list[str]]:
    """TrialAssignmentFailed: the trial row becomes FAILED (if it still exists), and whatever environment
    was claimed for it is deleted. Returns (row marked, environments retired)."""
    marked = trials.mark_failed(trial_id)
    return marked, retire_environments(trial_id, stacks=stacks, pool=pool, wait=wait)


def _wait_for_deletion(stack_name: str, *, stacks: Stacks, wait: DeletionWait) -> StackState | None:
    """None once the stack is gone; else its last state (DELETE_FAILED, or in progress at the deadline)."""
    while True:
        state = stacks.state(stack_name)
        if state is None or state.status == "DELETE_COMPLETE":
            return None
        if state.status == "DELETE_FAILED" or wait.monotonic() + wait.poll_seconds > wait.deadline:
            return state
        wait.sleep(wait.poll_seconds)
