"""The online-trial services with fakes for their ports: no AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from assign_trial.service import Started, start_assignment
from environment_manager.service import (
    DeletionWait,
    PoolItem,
    PoolStatus,
    StackDeletionFailed,
    StackDeletionPending,
    StackState,
    fail_trial,
    refill,
    replace_claimed,
    replacement_id,
    retire_environments,
)
from metrics.service import Count, counts_for, record_event
from shared.contracts.trials import RequestTrial, TrialExpired, TrialRequested
from trial_pool.service import Environment, InvalidPoolRequest, PoolEmpty, claim, parse_claim
from trial_stream.service import Entry, MalformedRecord, event_for, handle_records, is_ttl_removal
from trials_api.service import Trial, find_trial, request_trial

TRIAL_ID = "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c"
OTHER_TRIAL = "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"
TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


# --- trials API ----------------------------------------------------------------------------------


class FakeTrialStore:
    def __init__(self) -> None:
        self.rows: dict[str, Trial] = {}

    def put_new(self, trial: Trial) -> None:
        assert trial.trial_id not in self.rows
        self.rows[trial.trial_id] = trial

    def get(self, trial_id: str) -> Trial | None:
        return self.rows.get(trial_id)


def test_a_trial_request_is_stored_as_requested_and_expires_after_the_trial_duration() -> None:
    # Given a valid request
    store = FakeTrialStore()
    # When it is handled at t=1000 with a one-hour trial
    trial = request_trial(
        RequestTrial(leadId="lead-1", type="ACS"),
        store=store,
        now=1000,
        duration_seconds=3600,
        new_id=lambda: TRIAL_ID,
    )
    # Then the row is REQUESTED, stamped now, and expires an hour later
    assert store.rows[TRIAL_ID] == trial
    assert (trial.status, trial.requested_at, trial.expires_at) == ("REQUESTED", 1000, 4600)
    assert find_trial(TRIAL_ID, store=store) == trial
    assert find_trial(OTHER_TRIAL, store=store) is None


def test_each_request_gets_its_own_trial_id() -> None:
    store = FakeTrialStore()
    first = request_trial(RequestTrial(leadId="a", type="ACS"), store=store, now=1, duration_seconds=1)
    second = request_trial(RequestTrial(leadId="a", type="ACS"), store=store, now=1, duration_seconds=1)
    assert first.trial_id != second.trial_id
    assert TrialRequested.of(
        trial_id=first.trial_id, lead_id="a", trial_type="ACS", requested_at=1
    )  # a row the stream can turn into an event


# --- trial stream: records to events -------------------------------------------------------------


def image(trial_id: str = TRIAL_ID, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "trialId": {"S": trial_id},
        "leadId": {"S": "lead-0042"},
        "type": {"S": "ACS"},
        "requestedAt": {"N": "1795514400"},
        "status": {"S": "REQUESTED"},
        "expiresAt": {"N": "1795518000"},
    }
    return {key: value for key, value in {**base, **changes}.items() if value is not None}


def record(
    event_name: str,
    *,
    sequence: str = "100",
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    identity: dict[str, str] | None = None,
) -> dict[str, Any]:
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": 1795514400,
        "Keys": {"trialId": (new or old or image())["trialId"]},
        "SequenceNumber": sequence,
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        dynamodb["NewImage"] = new
    if old is not None:
        dynamodb["OldImage"] = old
    body: dict[str, Any] = {"eventID": f"e-{sequence}", "eventName": event_name, "dynamodb": dynamodb}
    if identity is not None:
        body["userIdentity"] = identity
    return body


def test_an_insert_is_a_trial_requested_from_the_new_image() -> None:
    event = event_for(record("INSERT", new=image()))
    assert isinstance(event, TrialRequested)
    assert json.loads(event.model_dump_json()) == {
        "version": "1.0",
        "trialId": TRIAL_ID,
        "leadId": "lead-0042",
        "type": "ACS",
        "requestedAt": 1795514400,
        "status": "REQUESTED",
    }


def test_a_ttl_removal_is_a_trial_expired_from_the_old_image() -> None:
    # Given the REMOVE that DynamoDB's TTL process makes (service identity)
    given = record("REMOVE", old=image(), identity=TTL_IDENTITY)
    # Then it is recognised as such and becomes TrialExpired with status EXPIRED
    assert is_ttl_removal(given)
    event = event_for(given)
    assert isinstance(event, TrialExpired)
    assert (event.trialId, event.status) == (TRIAL_ID, "EXPIRED")


@pytest.mark.parametrize(
    "given",
    [
        record("REMOVE", old=image()),  # a caller's DeleteItem: no userIdentity
        record("REMOVE", old=image(), identity={"type": "Service", "principalId": "other.amazonaws.com"}),
        record("REMOVE", old=image(), identity={"type": "User", "principalId": "dynamodb.amazonaws.com"}),
        record("MODIFY", new=image(status={"S": "ASSIGNED"}), old=image()),
        record("MODIFY", new=image(), old=image(), identity=TTL_IDENTITY),
    ],
    ids=["user-remove", "other-service", "not-a-service", "modify", "modify-with-identity"],
)
def test_a_user_removal_or_a_modification_is_no_event(given: dict[str, Any]) -> None:
    assert event_for(given) is None


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        (record("INSERT", new=image(leadId=None)), "leadId: Field required"),
        (record("INSERT", new=image(requestedAt={"N": "1795514400.5"})), "requestedAt"),
        (record("INSERT", new=image(type={"S": "lower"})), "type"),
        (record("INSERT", new=image(trialId={"N": "42"})), "trialId"),
        (record("INSERT"), "no NewImage"),
        (record("REMOVE", identity=TTL_IDENTITY, new=image()), "no OldImage"),
    ],
)
def test_an_image_that_breaks_the_contract_is_malformed_with_the_reason(
    given: dict[str, Any], reason: str
) -> None:
    with pytest.raises(MalformedRecord) as error:
        event_for(given)
    assert reason in str(error.value)


# --- trial stream: publishing in batches of 10 ---------------------------------------------------


@dataclass
class FakePublisher:
    """Fails the entries of the given trial ids, `times` times each (forever by default)."""

    failing: dict[str, int] = field(default_factory=dict)
    calls: list[list[Entry]] = field(default_factory=list)

    def put_events(self, entries: Sequence[Entry]) -> list[str | None]:
        assert len(entries) <= 10
        self.calls.append(list(entries))
        results: list[str | None] = []
        for entry in entries:
            trial_id = json.loads(entry["Detail"])["trialId"]
            if self.failing.get(trial_id, 0) > 0:
                self.failing[trial_id] -= 1
                results.append("InternalFailure: try again")
            else:
                results.append(None)
        return results


@dataclass
class FakeParkingLot:
    broken: bool = False
    parked: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)

    def park(self, reason: str, record: Mapping[str, Any]) -> None:
        if self.broken:
            raise ConnectionError("SQS unreachable")
        self.parked.append((reason, record))


def trial_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def inserts(count: int) -> list[dict[str, Any]]:
    return [record("INSERT", sequence=str(1000 + n), new=image(trial_id(n))) for n in range(count)]


def test_25_records_are_published_in_3_put_events_calls_of_at_most_10() -> None:
    # Given 25 INSERT records
    publisher = FakePublisher()
    # When the batch is handled
    outcome = handle_records(
        inserts(25), bus_name="bus", publisher=publisher, parking=FakeParkingLot(), sleep=no_sleep
    )
    # Then 3 calls of 10, 10 and 5 entries put all of them on the bus, and nothing failed
    assert [len(call) for call in publisher.calls] == [10, 10, 5]
    assert (outcome.published, outcome.failed) == (25, {})
    entry = publisher.calls[0][0]
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "OnlineTrial",
        "TrialRequested",
        "bus",
    )


def no_sleep(seconds: float) -> None:
    pass


def test_a_failed_entry_is_retried_alone_and_counts_as_published_once_accepted() -> None:
    # Given 12 records, one of whose entries PutEvents rejects once
    publisher = FakePublisher(failing={trial_id(3): 1})
    slept: list[float] = []
    # When the batch is handled
    outcome = handle_records(
        inserts(12), bus_name="bus", publisher=publisher, parking=FakeParkingLot(), sleep=slept.append
    )
    # Then only that entry is sent again, after a short pause, and nothing is reported failed
    assert [len(call) for call in publisher.calls] == [10, 2, 1]
    assert json.loads(publisher.calls[2][0]["Detail"])["trialId"] == trial_id(3)
    assert slept == [0.2]
    assert (outcome.published, outcome.failed) == (12, {})


def test_an_entry_that_fails_3_times_is_reported_by_its_sequence_number_only() -> None:
    # Given records 0..4 where PutEvents always rejects trial 2's entry
    publisher = FakePublisher(failing={trial_id(2): 99})
    slept: list[float] = []
    # When the batch is handled
    outcome = handle_records(
        inserts(5), bus_name="bus", publisher=publisher, parking=FakeParkingLot(), sleep=slept.append
    )
    # Then it was tried 3 times with growing pauses, and only its sequence number is failed, with the error
    assert [len(call) for call in publisher.calls] == [5, 1, 1]
    assert slept == [0.2, 0.4]
    assert list(outcome.failed) == ["1002"]
    assert "InternalFailure" in outcome.failed["1002"]
    assert outcome.published == 4


def test_a_malformed_record_is_parked_with_its_reason_and_is_not_a_failure() -> None:
    # Given a batch with a good INSERT, an INSERT without leadId, a MODIFY and a user REMOVE
    bad = record("INSERT", sequence="2", new=image(OTHER_TRIAL, leadId=None))
    records = [
        record("INSERT", sequence="1", new=image()),
        bad,
        record("MODIFY", sequence="3", new=image(), old=image()),
        record("REMOVE", sequence="4", old=image()),
    ]
    publisher, parking = FakePublisher(), FakeParkingLot()
    # When the batch is handled
    outcome = handle_records(records, bus_name="bus", publisher=publisher, parking=parking, sleep=no_sleep)
    # Then the malformed record is parked whole with why, the good one published, the others ignored
    [(reason, parked)] = parking.parked
    assert "leadId" in reason and parked == bad
    assert (outcome.published, outcome.parked, outcome.ignored, outcome.failed) == (1, 1, 2, {})


def test_a_malformed_record_that_cannot_be_parked_is_a_failure_so_it_is_not_lost() -> None:
    bad = record("INSERT", sequence="7", new=image(leadId=None))
    outcome = handle_records(
        [bad], bus_name="bus", publisher=FakePublisher(), parking=FakeParkingLot(broken=True), sleep=no_sleep
    )
    assert list(outcome.failed) == ["7"]
    assert "could not park" in outcome.failed["7"]


# --- assign trial --------------------------------------------------------------------------------


@dataclass
class FakeWorkflow:
    started: dict[str, str] = field(default_factory=dict)

    def start(self, *, name: str, payload: str) -> Started:
        new = name not in self.started
        self.started.setdefault(name, payload)
        return Started(execution_arn=f"arn:exec:{name}", new=new)


def test_the_assignment_runs_once_per_trial_with_the_detail_as_input() -> None:
    # Given a requested trial
    trial = TrialRequested.of(trial_id=TRIAL_ID, lead_id="lead-1", trial_type="ACS", requested_at=1)
    workflow = FakeWorkflow()
    # When its event is handled twice
    first = start_assignment(trial, workflow=workflow)
    second = start_assignment(trial, workflow=workflow)
    # Then one execution named after the trial got the detail; the repeat found it
    assert workflow.started == {TRIAL_ID: trial.model_dump_json()}
    assert (first.new, second.new, first.execution_arn == second.execution_arn) == (True, False, True)


# --- trial pool ----------------------------------------------------------------------------------


@dataclass
class FakePool:
    """Items: id -> {status, stackName, createdAt, trialId}. `steal` is claimed by someone else just
    before this caller's conditional update, as a concurrent claim would."""

    items: dict[str, dict[str, str]] = field(default_factory=dict)
    steal: str | None = None

    def add(self, environment_id: str, created_at: str, status: str = "WARM") -> None:
        self.items[environment_id] = {
            "status": status,
            "stackName": f"trial-env-{environment_id}",
            "createdAt": created_at,
        }

    def claimed_by(self, trial_id: str) -> Environment | None:
        for key, item in self.items.items():
            if item["status"] == "CLAIMED" and item.get("trialId") == trial_id:
                return Environment(key, item["stackName"])
        return None

    def warm_oldest_first(self) -> Iterator[str]:
        warm = sorted((i["createdAt"], k) for k, i in self.items.items() if i["status"] == "WARM")
        for _, key in warm:
            yield key

    def try_claim(self, environment_id: str, *, trial_id: str, claimed_at: str) -> Environment | None:
        if environment_id == self.steal:
            self.items[environment_id].update(status="CLAIMED", trialId="someone-else")
        item = self.items[environment_id]
        if item["status"] != "WARM":
            return None
        item.update(status="CLAIMED", trialId=trial_id, claimedAt=claimed_at)
        return Environment(environment_id, item["stackName"])


def test_a_claim_takes_the_oldest_warm_environment() -> None:
    pool = FakePool()
    pool.add("newer", "2026-11-24T10:00:00.000Z")
    pool.add("older", "2026-11-24T09:00:00.000Z")
    pool.add("gone", "2026-11-24T08:00:00.000Z", status="DELETED")
    environment = claim(TRIAL_ID, pool=pool, now="2026-11-24T11:00:00.000Z")
    assert environment == Environment("older", "trial-env-older")
    assert pool.items["older"]["trialId"] == TRIAL_ID


def test_a_claim_that_loses_the_race_for_an_environment_takes_the_next() -> None:
    # Given two warm environments, the older of which a concurrent claim takes first
    pool = FakePool(steal="older")
    pool.add("newer", "2026-11-24T10:00:00.000Z")
    pool.add("older", "2026-11-24T09:00:00.000Z")
    # When this trial claims
    environment = claim(TRIAL_ID, pool=pool, now="now")
    # Then it gets the other one, and the stolen one stays with its claimant
    assert environment.environment_id == "newer"
    assert pool.items["older"]["trialId"] == "someone-else"


def test_claiming_again_for_the_same_trial_returns_its_environment() -> None:
    pool = FakePool()
    pool.add("a", "1")
    pool.add("b", "2")
    first = claim(TRIAL_ID, pool=pool, now="now")
    second = claim(TRIAL_ID, pool=pool, now="later")
    assert first == second
    assert pool.items["b"]["status"] == "WARM"


def test_an_empty_pool_raises_pool_empty_naming_the_trial() -> None:
    pool = FakePool()
    pool.add("taken", "1", status="CLAIMED")
    with pytest.raises(PoolEmpty, match=f"no warm environment for trial {TRIAL_ID}"):
        claim(TRIAL_ID, pool=pool, now="now")
    assert PoolEmpty.__name__ == "PoolEmpty"  # Lambda's errorType, which the workflow's Catch names


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"action": "release", "trialId": TRIAL_ID},
        {"action": "claim"},
        {"action": "claim", "trialId": "x"},
    ],
)
def test_a_request_that_is_not_a_claim_is_rejected(event: dict[str, Any]) -> None:
    with pytest.raises(InvalidPoolRequest):
        parse_claim(event)


# --- environment manager -------------------------------------------------------------------------


@dataclass
class FakeStacks:
    """Stack name -> status. `delete_outcome` is the status a deletion leads to ("gone" by default);
    `progress` is how many state() reads a deletion stays DELETE_IN_PROGRESS first."""

    stacks: dict[str, str] = field(default_factory=dict)
    delete_outcome: str = "gone"
    progress: int = 0
    created: list[str] = field(default_factory=list)

    def create(self, *, stack_name: str, environment_id: str) -> bool:
        if stack_name in self.stacks:
            return False
        self.stacks[stack_name] = "CREATE_IN_PROGRESS"
        self.created.append(stack_name)
        return True

    def delete(self, stack_name: str) -> None:
        if stack_name in self.stacks:
            self.stacks[stack_name] = "DELETE_IN_PROGRESS"

    def state(self, stack_name: str) -> StackState | None:
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
        return None if status is None else StackState(status)


@dataclass
class FakePoolTable:
    items: dict[str, PoolItem] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    history: list[tuple[str, str]] = field(default_factory=list)

    def add_warm(self, *, environment_id: str, stack_name: str, created_at: str) -> bool:
        if environment_id in self.items:
            return False
        self.items[environment_id] = PoolItem(environment_id, stack_name, "WARM")
        return True

    def count_warm(self) -> int:
        return sum(1 for item in self.items.values() if item.status == "WARM")

    def of_trial(self, trial_id: str) -> list[PoolItem]:
        return [item for item in self.items.values() if item.trial_id == trial_id]

    def set_status(self, environment_id: str, status: PoolStatus, *, reason: str | None = None) -> None:
        item = self.items[environment_id]
        self.items[environment_id] = PoolItem(item.environment_id, item.stack_name, status, item.trial_id)
        self.history.append((environment_id, status))
        if reason:
            self.reasons[environment_id] = reason

    def claimed(self, environment_id: str, trial_id: str) -> None:
        self.items[environment_id] = PoolItem(
            environment_id, f"trial-env-{environment_id}", "CLAIMED", trial_id
        )


@dataclass
class FakeTrialsTable:
    rows: dict[str, str] = field(default_factory=dict)

    def mark_failed(self, trial_id: str) -> bool:
        if trial_id not in self.rows:
            return False
        self.rows[trial_id] = "FAILED"
        return True


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


def test_an_assignment_is_replaced_by_one_warm_environment_however_often_it_is_delivered() -> None:
    # Given the pool and no stacks
    stacks, pool = FakeStacks(), FakePoolTable()
    # When TrialAssigned for one trial is handled three times (redelivery, replay)
    items = [
        replace_claimed(TRIAL_ID, stacks=stacks, pool=pool, stack_prefix="trial-env", created_at="t")
        for _ in range(3)
    ]
    # Then exactly one stack and one WARM item exist, named after the replacement id of that trial
    environment_id = replacement_id(TRIAL_ID)
    assert stacks.created == [f"trial-env-{environment_id}"]
    assert list(pool.items) == [environment_id]
    assert {item.environment_id for item in items} == {environment_id}
    assert replacement_id(OTHER_TRIAL) != environment_id
    assert len(environment_id) == 12


def test_refill_tops_the_pool_up_to_its_size() -> None:
    stacks, pool = FakeStacks(), FakePoolTable()
    pool.add_warm(environment_id="old", stack_name="trial-env-old", created_at="t")
    pool.claimed("taken", OTHER_TRIAL)
    created = refill(pool_size=3, stacks=stacks, pool=pool, stack_prefix="trial-env", created_at="t")
    assert len(created) == 2 and pool.count_warm() == 3
    assert stacks.created == [item.stack_name for item in created]
    assert refill(pool_size=3, stacks=stacks, pool=pool, stack_prefix="trial-env", created_at="t") == []


def test_an_expired_trials_environment_goes_deleting_then_deleted() -> None:
    # Given an environment claimed by the trial, and its stack
    stacks, pool, clock = FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}), FakePoolTable(), FakeClock()
    pool.claimed("e1", TRIAL_ID)
    # When the trial's environments are retired
    retired = retire_environments(TRIAL_ID, stacks=stacks, pool=pool, wait=wait(clock))
    # Then the stack is gone and the item went DELETING, then DELETED
    assert retired == ["e1"]
    assert stacks.stacks == {}
    assert pool.history == [("e1", "DELETING"), ("e1", "DELETED")]


def test_retiring_again_leaves_a_deleted_environment_alone() -> None:
    stacks, pool = FakeStacks(), FakePoolTable()
    pool.claimed("e1", TRIAL_ID)
    pool.set_status("e1", "DELETED")
    pool.history.clear()
    assert retire_environments(TRIAL_ID, stacks=stacks, pool=pool, wait=wait(FakeClock())) == []
    assert pool.history == []


def test_a_deletion_in_progress_is_watched_until_it_completes() -> None:
    stacks = FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}, progress=2)
    pool, clock = FakePoolTable(), FakeClock()
    pool.claimed("e1", TRIAL_ID)
    assert retire_environments(TRIAL_ID, stacks=stacks, pool=pool, wait=wait(clock)) == ["e1"]
    assert clock.slept == [5, 5]


def test_a_failed_deletion_marks_the_environment_failed_and_raises() -> None:
    # Given a stack whose deletion fails (a bucket with objects left in it)
    stacks = FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}, delete_outcome="DELETE_FAILED")
    pool = FakePoolTable()
    pool.claimed("e1", TRIAL_ID)
    # When the trial's environments are retired
    with pytest.raises(StackDeletionFailed) as error:
        retire_environments(TRIAL_ID, stacks=stacks, pool=pool, wait=wait(FakeClock()))
    # Then the error names the stack and CloudFormation's reason, and the item is FAILED with it
    assert "trial-env-e1" in str(error.value) and "not empty" in str(error.value)
    assert pool.items["e1"].status == "FAILED"
    assert "not empty" in pool.reasons["e1"]


def test_a_failed_environment_is_tried_again_on_the_next_delivery() -> None:
    stacks = FakeStacks(stacks={"trial-env-e1": "DELETE_FAILED"})
    pool = FakePoolTable()
    pool.claimed("e1", TRIAL_ID)
    pool.set_status("e1", "FAILED")
    assert retire_environments(TRIAL_ID, stacks=stacks, pool=pool, wait=wait(FakeClock())) == ["e1"]
    assert pool.items["e1"].status == "DELETED"


def test_a_deletion_still_running_at_the_deadline_raises_so_it_is_retried() -> None:
    stacks = FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}, progress=100)
    pool, clock = FakePoolTable(), FakeClock()
    pool.claimed("e1", TRIAL_ID)
    with pytest.raises(StackDeletionPending, match="DELETE_IN_PROGRESS"):
        retire_environments(TRIAL_ID, stacks=stacks, pool=pool, wait=wait(clock, seconds=12))
    assert clock.slept == [5, 5]  # 0, 5, 10: a next poll at 15 would pass the 12 s deadline
    assert pool.items["e1"].status == "DELETING"


def test_a_failed_assignment_marks_the_trial_failed_and_deletes_its_environment() -> None:
    stacks, pool = FakeStacks(stacks={"trial-env-e1": "CREATE_COMPLETE"}), FakePoolTable()
    trials = FakeTrialsTable(rows={TRIAL_ID: "REQUESTED"})
    pool.claimed("e1", TRIAL_ID)
    marked, retired = fail_trial(TRIAL_ID, trials=trials, stacks=stacks, pool=pool, wait=wait(FakeClock()))
    assert (marked, retired) == (True, ["e1"])
    assert trials.rows[TRIAL_ID] == "FAILED"


def test_a_failed_assignment_without_a_row_or_an_environment_changes_nothing() -> None:
    stacks, pool, trials = FakeStacks(), FakePoolTable(), FakeTrialsTable()
    assert fail_trial(TRIAL_ID, trials=trials, stacks=stacks, pool=pool, wait=wait(FakeClock())) == (
        False,
        [],
    )
    assert trials.rows == {} and pool.items == {}


# --- metrics -------------------------------------------------------------------------------------


def test_every_event_counts_by_source_and_detail_type_and_known_ones_as_business() -> None:
    assert counts_for({"source": "OnlineTrial", "detail-type": "TrialAssigned"}) == [
        Count("Events", {"source": "OnlineTrial", "detailType": "TrialAssigned"}),
        Count("TrialsAssigned"),
    ]
    assert counts_for({"source": "myapp.orders", "detail-type": "OrderCompleted"})[1] == Count(
        "OrdersCompleted"
    )
    assert counts_for({"source": "aws.s3", "detail-type": "Object Created"}) == [
        Count("Events", {"source": "aws.s3", "detailType": "Object Created"})
    ]


def test_an_event_without_source_or_type_is_still_counted_as_unknown() -> None:
    emitted: list[Count] = []

    class ListEmitter:
        def count(self, metric: Count) -> None:
            emitted.append(metric)

    record_event({"detail-type": ""}, emitter=ListEmitter())
    assert emitted == [Count("Events", {"source": "unknown", "detailType": "unknown"})]
