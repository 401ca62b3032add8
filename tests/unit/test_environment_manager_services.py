"""The environment manager's services with fakes for its ports (stacks, buckets, pool, trials): no AWS."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

import pytest

from environment_manager.service import (
    DeletionWait,
    Environments,
    StackDeletionFailed,
    StackDeletionPending,
    StackState,
    on_stack_status,
    reconcile,
    refill,
    replace_claimed,
    replacement_id,
    retire_environments,
    stack_name_of,
)
from environment_manager.trials import (
    TrialNotExpired,
    TrialNotFailed,
    TrialRecord,
    expire_trial,
    fail_trial,
    sweep_stuck_trials,
)
from shared.pool_table import PoolItem, PoolStatus

TRIAL_ID = "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c"
OTHER_TRIAL = "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"


@dataclass
class FakeStacks:
    """Stack name -> status (and bucket). `delete_outcome` is the status a deletion leads to ("gone" by
    default); `progress` is how many state() reads a deletion stays DELETE_IN_PROGRESS first."""

    stacks: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)
    delete_outcome: str = "gone"
    progress: int = 0
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def create(self, *, stack_name: str, environment_id: str) -> bool:
        if stack_name in self.stacks:
            return False
        self.stacks[stack_name] = "CREATE_IN_PROGRESS"
        self.created.append(stack_name)
        return True

    def delete(self, stack_name: str) -> None:
        self.deleted.append(stack_name)
        if stack_name in self.stacks:
            self.stacks[stack_name] = "DELETE_IN_PROGRESS"

    def state(self, stack_name: str) -> StackState | None:
        stack_name = stack_name_of(stack_name)
        status = self.stacks.get(stack_name)
        if status == "DELETE_IN_PROGRESS":
            if self.progress > 0:
                self.progress -= 1
                return StackState(status)
            if self.delete_outcome == "gone":
                del self.stacks[stack_name]
                return None
            self.stacks[stack_name] = self.delete_outcome
            return StackState(self.delete_outcome, "The bucket you tried to delete is not empty")
        return None if status is None else StackState(status, bucket=self.buckets.get(stack_name))


@dataclass
class FakeBuckets:
    objects: dict[str, int] = field(default_factory=dict)
    emptied: list[str] = field(default_factory=list)

    def empty(self, bucket: str) -> int:
        self.emptied.append(bucket)
        return self.objects.pop(bucket, 0)


@dataclass
class FakePool:
    items: dict[str, PoolItem] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    history: list[tuple[str, str]] = field(default_factory=list)

    def add_provisioning(self, *, environment_id: str, stack_name: str, created_at: str) -> bool:
        if environment_id in self.items:
            return False
        self.items[environment_id] = PoolItem(environment_id, stack_name, "PROVISIONING", created_at)
        return True

    def get(self, environment_id: str) -> PoolItem | None:
        return self.items.get(environment_id)

    def transition(
        self,
        environment_id: str,
        *,
        expected: Iterable[PoolStatus],
        to: PoolStatus,
        reason: str | None = None,
        at: str | None = None,
    ) -> bool:
        item = self.items.get(environment_id)
        if item is None or item.status not in set(expected):
            return False
        self.items[environment_id] = replace(item, status=to)
        self.history.append((environment_id, to))
        if reason:
            self.reasons[environment_id] = reason
        return True

    def ids_with_status(self, status: PoolStatus, *, created_before: str | None = None) -> Iterator[str]:
        for item in sorted(self.items.values(), key=lambda i: i.created_at):
            if item.status == status and (created_before is None or item.created_at < created_before):
                yield item.environment_id

    def count(self, *statuses: PoolStatus) -> int:
        return sum(1 for item in self.items.values() if item.status in statuses)

    def of_trial(self, trial_id: str) -> list[PoolItem]:
        return [item for item in self.items.values() if item.trial_id == trial_id]

    def put(
        self, environment_id: str, status: PoolStatus, trial_id: str | None = None, created_at: str = "t0"
    ) -> None:
        self.items[environment_id] = PoolItem(
            environment_id, f"trial-env-{environment_id}", status, created_at, trial_id
        )


@dataclass
class FakeTrials:
    rows: dict[str, TrialRecord] = field(default_factory=dict)
    requested_at: dict[str, int] = field(default_factory=dict)

    def get(self, trial_id: str) -> TrialRecord | None:
        return self.rows.get(trial_id)

    def mark_failed(self, trial_id: str) -> bool:
        row = self.rows.get(trial_id)
        if row is None or row.status not in ("REQUESTED", "NEEDS_ATTENTION"):
            return False
        self.rows[trial_id] = replace(row, status="FAILED")
        return True

    def requested_before(self, requested_at: int) -> Iterator[str]:
        for trial_id, at in self.requested_at.items():
            if at < requested_at and self.rows[trial_id].status == "REQUESTED":
                yield trial_id

    def mark_needs_attention(self, trial_id: str, *, requested_before: int, reason: str) -> bool:
        row = self.rows[trial_id]
        if row.status != "REQUESTED" or self.requested_at[trial_id] >= requested_before:
            return False
        self.rows[trial_id] = replace(row, status="NEEDS_ATTENTION")
        return True


@dataclass
class FakeMetrics:
    counts: list[tuple[str, int]] = field(default_factory=list)

    def count(self, name: str, value: int) -> None:
        self.counts.append((name, value))


@dataclass
class FakeClock:
    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def wait(clock: FakeClock, seconds: float = 60) -> DeletionWait:
    return DeletionWait.within(seconds, poll_seconds=5, sleep=clock.sleep, monotonic=clock.monotonic)


def envs(
    stacks: FakeStacks | None = None, pool: FakePool | None = None, buckets: FakeBuckets | None = None
) -> Environments:
    counter = iter(range(1000))
    return Environments(
        stacks=stacks or FakeStacks(),
        buckets=buckets or FakeBuckets(),
        pool=pool or FakePool(),
        stack_prefix="trial-env",
        new_id=lambda: f"new{next(counter)}",
    )


def claimed(pool: FakePool, environment_id: str = "e1", trial_id: str = TRIAL_ID) -> None:
    pool.put(environment_id, "CLAIMED", trial_id)


# --- provisioning -------------------------------------------------------------------------------------


def test_an_assignment_is_replaced_by_one_provisioning_environment_however_often_it_is_delivered() -> None:
    # Given the pool and no stacks
    e = envs()
    # When TrialAssigned for one trial is handled three times (redelivery, replay)
    items = [replace_claimed(TRIAL_ID, envs=e, created_at="t") for _ in range(3)]
    # Then exactly one stack and one PROVISIONING item exist, named after the replacement id of that trial
    environment_id = replacement_id(TRIAL_ID)
    assert e.stacks.created == [f"trial-env-{environment_id}"]  # type: ignore[attr-defined]
    assert [i.status for i in e.pool.items.values()] == ["PROVISIONING"]  # type: ignore[attr-defined]
    assert {item.environment_id for item in items if item} == {environment_id}
    assert replacement_id(OTHER_TRIAL) != environment_id and len(environment_id) == 12


def test_a_replayed_assignment_after_the_replacement_was_claimed_and_deleted_creates_nothing() -> None:
    pool = FakePool()
    pool.put(replacement_id(TRIAL_ID), "DELETED", OTHER_TRIAL)
    e = envs(pool=pool)
    assert replace_claimed(TRIAL_ID, envs=e, created_at="t") is None
    assert e.stacks.created == []  # type: ignore[attr-defined]


def test_a_provisioning_item_whose_stack_was_never_started_gets_it_on_the_retry() -> None:
    pool = FakePool()
    pool.put(replacement_id(TRIAL_ID), "PROVISIONING")
    e = envs(pool=pool)
    assert replace_claimed(TRIAL_ID, envs=e, created_at="t") is not None
    assert e.stacks.created == [f"trial-env-{replacement_id(TRIAL_ID)}"]  # type: ignore[attr-defined]


def test_refill_counts_provisioning_and_warm_environments() -> None:
    pool = FakePool()
    pool.put("warm", "WARM")
    pool.put("booting", "PROVISIONING")
    claimed(pool, "taken", OTHER_TRIAL)
    e = envs(pool=pool)
    assert [i.environment_id for i in refill(pool_size=3, envs=e, created_at="t")] == ["new0"]
    assert refill(pool_size=3, envs=e, created_at="t") == []


@pytest.mark.parametrize(
    ("stack_status", "action", "status"),
    [
        ("CREATE_COMPLETE", "warm", "WARM"),
        ("CREATE_IN_PROGRESS", "unchanged", "PROVISIONING"),
        ("CREATE_FAILED", "failed", "FAILED"),
        ("ROLLBACK_IN_PROGRESS", "failed", "FAILED"),
        ("ROLLBACK_COMPLETE", "failed", "FAILED"),
    ],
)
def test_the_stacks_status_now_decides_what_becomes_of_a_provisioning_environment(
    stack_status: str, action: str, status: str
) -> None:
    pool = FakePool()
    pool.put("e1", "PROVISIONING")
    e = envs(stacks=FakeStacks(stacks={"trial-env-e1": stack_status}), pool=pool)
    outcome = on_stack_status("arn:aws:cloudformation:r:1:stack/trial-env-e1/abc", envs=e, now="t")
    assert (outcome.action, pool.items["e1"].status) == (action, status)
    if action == "failed":
        assert e.stacks.deleted == ["trial-env-e1"]  # type: ignore[attr-defined]
        assert pool.items[outcome.replacement or ""].status == "PROVISIONING"


def test_a_claimed_environment_is_never_made_warm_again_by_a_late_event() -> None:
    pool = FakePool()
    claimed(pool)
    e = envs(stacks=FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}), pool=pool)
    assert on_stack_status("trial-env-e1", envs=e, now="t").action == "unchanged"
    assert pool.items["e1"].status == "CLAIMED"


def test_a_deleted_stack_finishes_a_retirement_and_delete_failed_marks_it_failed() -> None:
    pool = FakePool()
    pool.put("gone", "DELETING")
    pool.put("stuck", "DELETING")
    e = envs(stacks=FakeStacks(stacks={"trial-env-stuck": "DELETE_FAILED"}), pool=pool)
    assert on_stack_status("trial-env-gone", envs=e, now="t").action == "deleted"
    assert on_stack_status("trial-env-stuck", envs=e, now="t").action == "delete-failed"
    assert (pool.items["gone"].status, pool.items["stuck"].status) == ("DELETED", "FAILED")


@pytest.mark.parametrize(
    "stack", ["other-app-stack", "trial-env-", "arn:aws:cloudformation:r:1:stack/trial-env-x/1"]
)
def test_a_stack_that_is_not_a_pool_environment_is_ignored(stack: str) -> None:
    assert on_stack_status(stack, envs=envs(), now="t").action == "ignored"


# --- the reconcile ------------------------------------------------------------------------------------


def test_the_reconcile_settles_old_provisioning_items_redeletes_failed_ones_and_fills_the_pool() -> None:
    # Given: an old PROVISIONING item whose stack is up (its event was lost), one whose stack is gone,
    # a young PROVISIONING one, a FAILED one whose stack is still there, and a pool size of 4
    pool = FakePool()
    pool.put("up", "PROVISIONING", created_at="t1")
    pool.put("lost", "PROVISIONING", created_at="t1")
    pool.put("young", "PROVISIONING", created_at="t9")
    pool.put("broken", "FAILED", created_at="t1")
    stacks = FakeStacks(
        stacks={
            "trial-env-up": "CREATE_COMPLETE",
            "trial-env-young": "CREATE_IN_PROGRESS",
            "trial-env-broken": "ROLLBACK_COMPLETE",
        },
        buckets={"trial-env-broken": "b-1"},
    )
    e = envs(stacks=stacks, pool=pool)
    # When the reconcile runs
    done = reconcile(pool_size=4, envs=e, now="t10", provisioning_before="t5")
    # Then each was settled from CloudFormation's word, and the pool was filled back to 4 live ones
    assert (done.warmed, done.failed, sorted(done.redeleted)) == (["up"], ["lost"], ["broken", "lost"])
    assert pool.items["broken"].status == "DELETED" and pool.items["young"].status == "PROVISIONING"
    assert done.provisioned == ["new0", "new1"]
    assert pool.count("WARM", "PROVISIONING") == 4
    assert e.buckets.emptied == ["b-1"]  # type: ignore[attr-defined]


def test_the_sweep_moves_trials_requested_too_long_ago_and_counts_them() -> None:
    trials = FakeTrials(
        rows={TRIAL_ID: TrialRecord("REQUESTED", 9999), OTHER_TRIAL: TrialRecord("REQUESTED", 9999)},
        requested_at={TRIAL_ID: 100, OTHER_TRIAL: 950},
    )
    metrics = FakeMetrics()
    assert sweep_stuck_trials(trials=trials, metrics=metrics, now=1000, deadline_seconds=600) == [TRIAL_ID]
    assert (
        trials.rows[TRIAL_ID].status == "NEEDS_ATTENTION" and trials.rows[OTHER_TRIAL].status == "REQUESTED"
    )
    assert sweep_stuck_trials(trials=trials, metrics=metrics, now=1000, deadline_seconds=600) == []
    assert metrics.counts == [("TrialsNeedingAttention", 1), ("TrialsNeedingAttention", 0)]


# --- retiring -----------------------------------------------------------------------------------------


def test_an_expired_trials_environment_goes_deleting_bucket_emptied_then_deleted() -> None:
    # Given an environment claimed by the trial, its stack and a bucket with the trial's data
    stacks = FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}, buckets={"trial-env-e1": "b-1"})
    pool, buckets, clock = FakePool(), FakeBuckets(objects={"b-1": 3}), FakeClock()
    claimed(pool)
    # When the trial's environments are retired
    retired = retire_environments(TRIAL_ID, envs=envs(stacks, pool, buckets), wait=wait(clock))
    # Then the bucket was emptied first, the stack is gone and the item went DELETING, then DELETED
    assert retired == ["e1"] and buckets.emptied == ["b-1"] and buckets.objects == {}
    assert stacks.stacks == {}
    assert pool.history == [("e1", "DELETING"), ("e1", "DELETED")]


def test_retiring_again_leaves_a_deleted_environment_alone() -> None:
    pool = FakePool()
    pool.put("e1", "DELETED", TRIAL_ID)
    assert retire_environments(TRIAL_ID, envs=envs(pool=pool), wait=wait(FakeClock())) == []
    assert pool.history == []


def test_a_deletion_in_progress_is_watched_until_it_completes() -> None:
    stacks = FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}, progress=2)
    pool, clock = FakePool(), FakeClock()
    claimed(pool)
    assert retire_environments(TRIAL_ID, envs=envs(stacks, pool), wait=wait(clock)) == ["e1"]
    assert clock.slept == [5, 5]


def test_a_failed_deletion_marks_the_environment_failed_and_raises() -> None:
    stacks = FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}, delete_outcome="DELETE_FAILED")
    pool = FakePool()
    claimed(pool)
    with pytest.raises(StackDeletionFailed) as error:
        retire_environments(TRIAL_ID, envs=envs(stacks, pool), wait=wait(FakeClock()))
    assert "trial-env-e1" in str(error.value) and "not empty" in str(error.value)
    assert pool.items["e1"].status == "FAILED" and "not empty" in pool.reasons["e1"]


def test_a_failed_environment_is_tried_again_on_the_next_delivery() -> None:
    stacks = FakeStacks(stacks={"trial-env-e1": "DELETE_FAILED"})
    pool = FakePool()
    pool.put("e1", "FAILED", TRIAL_ID)
    assert retire_environments(TRIAL_ID, envs=envs(stacks, pool), wait=wait(FakeClock())) == ["e1"]
    assert pool.items["e1"].status == "DELETED"


def test_a_deletion_still_running_at_the_deadline_raises_so_it_is_retried() -> None:
    stacks = FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}, progress=100)
    pool, clock = FakePool(), FakeClock()
    claimed(pool)
    with pytest.raises(StackDeletionPending, match="DELETE_IN_PROGRESS"):
        retire_environments(TRIAL_ID, envs=envs(stacks, pool), wait=wait(clock, seconds=12))
    assert clock.slept == [5, 5]  # 0, 5, 10: a next poll at 15 would pass the 12 s deadline
    assert pool.items["e1"].status == "DELETING"


@pytest.mark.parametrize(
    ("row", "retires"),
    [(None, True), (TrialRecord("ASSIGNED", 999), True), (TrialRecord("ASSIGNED", 1001), False)],
)
def test_trial_expired_acts_only_when_the_table_agrees_the_trial_is_over(
    row: TrialRecord | None, retires: bool
) -> None:
    stacks, pool = FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}), FakePool()
    claimed(pool)
    trials = FakeTrials(rows={TRIAL_ID: row} if row else {})
    e = envs(stacks, pool)
    if retires:
        assert expire_trial(TRIAL_ID, trials=trials, envs=e, now=1000, wait=wait(FakeClock())) == ["e1"]
    else:
        with pytest.raises(TrialNotExpired):
            expire_trial(TRIAL_ID, trials=trials, envs=e, now=1000, wait=wait(FakeClock()))
        assert pool.items["e1"].status == "CLAIMED" and stacks.deleted == []


def test_a_failed_assignment_marks_the_trial_failed_and_deletes_its_environment() -> None:
    stacks, pool = FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}), FakePool()
    trials = FakeTrials(rows={TRIAL_ID: TrialRecord("REQUESTED", 9)})
    claimed(pool)
    marked, retired = fail_trial(TRIAL_ID, trials=trials, envs=envs(stacks, pool), wait=wait(FakeClock()))
    assert (marked, retired) == (True, ["e1"])
    assert trials.rows[TRIAL_ID].status == "FAILED"


def test_a_failed_assignment_for_an_assigned_trial_is_refused() -> None:
    stacks, pool = FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}), FakePool()
    trials = FakeTrials(rows={TRIAL_ID: TrialRecord("ASSIGNED", 9)})
    claimed(pool)
    with pytest.raises(TrialNotFailed):
        fail_trial(TRIAL_ID, trials=trials, envs=envs(stacks, pool), wait=wait(FakeClock()))
    assert stacks.deleted == []


def test_a_failed_assignment_without_a_row_or_an_environment_changes_nothing() -> None:
    trials, pool = FakeTrials(), FakePool()
    assert fail_trial(TRIAL_ID, trials=trials, envs=envs(pool=pool), wait=wait(FakeClock())) == (False, [])
    assert trials.rows == {} and pool.items == {}
