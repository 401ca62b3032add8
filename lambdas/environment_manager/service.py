"""Keeps the pool of trial environments: provisions stacks, marks them WARM once CloudFormation says so,
retires those of expired or failed trials, and reconciles the pool to its size on a schedule.

No AWS here, only ports: the CloudFormation stacks, the trial buckets, the pool table and the trials
table. Whatever destroys something re-reads the state it acts on first (the stack's status from
CloudFormation, the trial from its table), so a stale, repeated or forged event cannot make it act.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from shared.pool_table import PoolItem, PoolStatus

# Statuses whose stack must (still) go when the trial ends: DELETING and FAILED are earlier attempts.
RETIRABLE: frozenset[PoolStatus] = frozenset({"CLAIMED", "DELETING", "FAILED"})
# The stack statuses of a creation that did not work: the environment is retired and replaced.
CREATE_FAILED: frozenset[str] = frozenset(
    {"CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED", "ROLLBACK_COMPLETE"}
)
GONE: frozenset[str] = frozenset({"DELETE_COMPLETE"})
# Names replacement environments after the trial whose claim they replace (see `replacement_id`).
REPLACEMENT_NAMESPACE = uuid.UUID("6f0e7d1c-3b0a-4c8e-9a55-2d7f1e0c9b41")
DELETION_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class StackState:
    """What CloudFormation says about a stack, and the bucket it holds (from its outputs)."""

    status: str
    reason: str = ""
    bucket: str | None = None


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


class Buckets(Protocol):
    """The trial environments' S3 buckets."""

    def empty(self, bucket: str) -> int:
        """Deletes every object of the bucket; how many there were. CloudFormation cannot delete a
        bucket that holds objects, so a trial that stored data could otherwise never be deleted."""
        ...


class Pool(Protocol):
    """The pool table (shared.pool_table.DynamoDbPoolTable)."""

    def add_provisioning(self, *, environment_id: str, stack_name: str, created_at: str) -> bool: ...

    def get(self, environment_id: str) -> PoolItem | None: ...

    def transition(
        self,
        environment_id: str,
        *,
        expected: Iterable[PoolStatus],
        to: PoolStatus,
        reason: str | None = None,
        at: str | None = None,
    ) -> bool: ...

    def ids_with_status(self, status: PoolStatus, *, created_before: str | None = None) -> Iterable[str]: ...

    def count(self, *statuses: PoolStatus) -> int: ...

    def of_trial(self, trial_id: str) -> list[PoolItem]: ...


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


@dataclass(frozen=True)
class Environments:
    """The pool's ports and naming, as every operation here needs them."""

    stacks: Stacks
    buckets: Buckets
    pool: Pool
    stack_prefix: str
    new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex[:12])

    def stack_name(self, environment_id: str) -> str:
        return f"{self.stack_prefix}-{environment_id}"

    def environment_id(self, stack_name: str) -> str | None:
        """The environment a stack belongs to, or None when the stack is not a trial environment."""
        prefix = f"{self.stack_prefix}-"
        return stack_name[len(prefix) :] if stack_name.startswith(prefix) and stack_name != prefix else None


def replacement_id(trial_id: str) -> str:
    """The id of the environment that replaces the one a trial claimed: the same for every delivery of
    its TrialAssigned (and for a replay from the archive), so a repeat creates nothing new."""
    return uuid.uuid5(REPLACEMENT_NAMESPACE, trial_id).hex[:12]


def provision(environment_id: str, *, envs: Environments, created_at: str) -> PoolItem | None:
    """Puts the environment in the pool as PROVISIONING, then starts its stack. It becomes WARM only
    when CloudFormation reports CREATE_COMPLETE (`on_stack_status`).

    The item comes first, so the stack's status events always find it. A repeat finishes a half-done
    job (the item exists and is still PROVISIONING: the stack is started, or found started) and
    otherwise does nothing: an environment that was claimed or deleted is never provisioned again.
    Returns the item when this call provisioned it (or finished provisioning it), else None.
    """
    stack_name = envs.stack_name(environment_id)
    if not envs.pool.add_provisioning(
        environment_id=environment_id, stack_name=stack_name, created_at=created_at
    ):
        existing = envs.pool.get(environment_id)
        if existing is None or existing.status != "PROVISIONING":
            return None
    envs.stacks.create(stack_name=stack_name, environment_id=environment_id)
    return PoolItem(environment_id, stack_name, "PROVISIONING", created_at)


def replace_claimed(trial_id: str, *, envs: Environments, created_at: str) -> PoolItem | None:
    """TrialAssigned: one new environment for the one the trial took."""
    return provision(replacement_id(trial_id), envs=envs, created_at=created_at)


def refill(*, pool_size: int, envs: Environments, created_at: str) -> list[PoolItem]:
    """Provisions as many environments as the pool lacks to have `pool_size` WARM or PROVISIONING ones."""
    missing = max(pool_size - envs.pool.count("WARM", "PROVISIONING"), 0)
    created = [provision(envs.new_id(), envs=envs, created_at=created_at) for _ in range(missing)]
    return [item for item in created if item is not None]


@dataclass(frozen=True)
class StackOutcome:
    """What a stack's status did to its environment: `action` is one of warm, failed, deleted,
    delete-failed, unchanged (the item was not in the expected status), ignored (not a pool stack)."""

    action: str
    environment_id: str | None = None
    replacement: str | None = None


def on_stack_status(stack: str, *, envs: Environments, now: str) -> StackOutcome:
    """A trial stack's status changed (`stack` is its name or id): act on the status CloudFormation
    reports now, not on the one the event carried, so events that arrive late, twice or forged do no harm.

    CREATE_COMPLETE: PROVISIONING -> WARM. A failed creation: PROVISIONING -> FAILED, the stack is
    deleted and a replacement provisioned. Deleted: DELETING/FAILED -> DELETED. DELETE_FAILED: -> FAILED
    (the reconcile deletes it again). Every change is conditional on the status before it.
    """
    name = stack_name_of(stack)
    environment_id = envs.environment_id(name)
    if environment_id is None or envs.pool.get(environment_id) is None:
        return StackOutcome("ignored")
    state = envs.stacks.state(stack)
    status = "DELETE_COMPLETE" if state is None else state.status
    pool = envs.pool
    if status == "CREATE_COMPLETE":
        moved = pool.transition(environment_id, expected={"PROVISIONING"}, to="WARM", at=now)
        return StackOutcome("warm" if moved else "unchanged", environment_id)
    if status in CREATE_FAILED:
        reason = f"{status}: {state.reason}" if state and state.reason else status
        if not pool.transition(environment_id, expected={"PROVISIONING"}, to="FAILED", reason=reason, at=now):
            return StackOutcome("unchanged", environment_id)
        envs.stacks.delete(name)  # nothing was ever stored in it: no bucket to empty
        replacement = provision(envs.new_id(), envs=envs, created_at=now)
        return StackOutcome("failed", environment_id, replacement.environment_id if replacement else None)
    if status in GONE:
        moved = pool.transition(environment_id, expected={"DELETING", "FAILED"}, to="DELETED", at=now)
        return StackOutcome("deleted" if moved else "unchanged", environment_id)
    if status == "DELETE_FAILED":
        reason = state.reason if state and state.reason else status
        moved = pool.transition(environment_id, expected={"DELETING"}, to="FAILED", reason=reason, at=now)
        return StackOutcome("delete-failed" if moved else "unchanged", environment_id)
    return StackOutcome("unchanged", environment_id)  # still in progress: its next status will come


def stack_name_of(stack: str) -> str:
    """arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid> -> <name>; a plain name as it is."""
    if stack.startswith("arn:"):
        _, _, rest = stack.partition(":stack/")
        return rest.split("/", 1)[0]
    return stack


def retire_environments(trial_id: str, *, envs: Environments, wait: DeletionWait) -> list[str]:
    """Deletes the stack of every environment the trial holds: DELETING, bucket emptied, delete, DELETED.

    Raises StackDeletionFailed (the item is then FAILED) or StackDeletionPending (still DELETING), so
    that the invocation fails and is retried, and in the end parked; an environment already DELETED is
    left alone, which makes a redelivered event harmless.
    """
    retired: list[str] = []
    for item in envs.pool.of_trial(trial_id):
        if item.status not in RETIRABLE:
            continue
        envs.pool.transition(item.environment_id, expected=RETIRABLE, to="DELETING")
        state = delete_stack(item.stack_name, envs=envs, wait=wait)
        if state is not None and state.status == "DELETE_FAILED":
            reason = state.reason or "DELETE_FAILED"
            envs.pool.transition(item.environment_id, expected={"DELETING"}, to="FAILED", reason=reason)
            raise StackDeletionFailed(
                f"stack {item.stack_name} of environment {item.environment_id} could not be deleted: {reason}"
            )
        if state is not None:
            raise StackDeletionPending(
                f"stack {item.stack_name} of environment {item.environment_id} is still {state.status}"
            )
        envs.pool.transition(item.environment_id, expected={"DELETING", "FAILED"}, to="DELETED")
        retired.append(item.environment_id)
    return retired


def delete_stack(stack_name: str, *, envs: Environments, wait: DeletionWait | None) -> StackState | None:
    """Empties the stack's bucket, deletes the stack and (with a wait) watches the deletion.

    Returns None once the stack is gone; else its last state (DELETE_FAILED, or still in progress at the
    deadline, or not watched at all without a wait)."""
    state = envs.stacks.state(stack_name)
    if state is None or state.status in GONE:
        return None
    if state.bucket:
        envs.buckets.empty(state.bucket)
    envs.stacks.delete(stack_name)
    if wait is None:
        return envs.stacks.state(stack_name)
    while True:
        state = envs.stacks.state(stack_name)
        if state is None or state.status in GONE:
            return None
        if state.status == "DELETE_FAILED" or wait.monotonic() + wait.poll_seconds > wait.deadline:
            return state
        wait.sleep(wait.poll_seconds)


@dataclass(frozen=True)
class Reconciled:
    """What a reconcile did: environments marked WARM or FAILED from their stack's status (a status
    event that never came), retired ones deleted again, and new ones provisioned to fill the pool."""

    warmed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    redeleted: list[str] = field(default_factory=list)
    provisioned: list[str] = field(default_factory=list)


def reconcile(*, pool_size: int, envs: Environments, now: str, provisioning_before: str) -> Reconciled:
    """The scheduled repair of the pool, safe to run at any time and any number of times:

    1. environments PROVISIONING since before `provisioning_before` are settled from their stack's status
       (their status event was lost or late): CREATE_COMPLETE -> WARM, failed -> FAILED and deleted;
    2. FAILED environments whose stack still exists are deleted again (bucket emptied first);
    3. the pool is topped up to `pool_size` WARM or PROVISIONING environments, which replaces every
       environment retired since the last run.
    """
    warmed: list[str] = []
    failed: list[str] = []
    for environment_id in list(envs.pool.ids_with_status("PROVISIONING", created_before=provisioning_before)):
        state = envs.stacks.state(envs.stack_name(environment_id))
        if state is not None and state.status == "CREATE_COMPLETE":
            if envs.pool.transition(environment_id, expected={"PROVISIONING"}, to="WARM", at=now):
                warmed.append(environment_id)
        elif state is None or state.status in CREATE_FAILED:
            reason = "stack missing" if state is None else state.status
            if envs.pool.transition(
                environment_id, expected={"PROVISIONING"}, to="FAILED", reason=reason, at=now
            ):
                failed.append(environment_id)
    redeleted: list[str] = []
    for environment_id in list(envs.pool.ids_with_status("FAILED")):
        state = delete_stack(envs.stack_name(environment_id), envs=envs, wait=None)
        if state is None:
            envs.pool.transition(environment_id, expected={"FAILED"}, to="DELETED", at=now)
        redeleted.append(environment_id)
    provisioned = refill(pool_size=pool_size, envs=envs, created_at=now)
    return Reconciled(warmed, failed, redeleted, [item.environment_id for item in provisioned])
