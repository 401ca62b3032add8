"""The trial pool's claim with a fake for its Claims port: no AWS."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.pool_table import PoolItem
from trial_pool.service import (
    ClaimConflict,
    InvalidPoolRequest,
    Outcome,
    PoolEmpty,
    TrialNotClaimable,
    TrialRow,
    claim,
    parse_claim,
)

TRIAL_ID = "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c"


@dataclass
class FakeClaims:
    """Pool items and trial rows, claimed together as the transaction does. `steal` is taken by another
    trial just before this caller's transaction; `record_first` is recorded on this caller's trial row
    by a concurrent retry just before it; `conflict` makes the trial row contended once."""

    items: dict[str, PoolItem] = field(default_factory=dict)
    trials: dict[str, TrialRow] = field(default_factory=dict)
    steal: str | None = None
    record_first: str | None = None
    conflict: bool = False
    transactions: int = 0

    def add(self, environment_id: str, created_at: str, status: str = "WARM") -> None:
        self.items[environment_id] = PoolItem(
            environment_id, f"trial-env-{environment_id}", status, created_at
        )  # type: ignore[arg-type]

    def trial(self, trial_id: str) -> TrialRow | None:
        return self.trials.get(trial_id)

    def environment(self, environment_id: str) -> PoolItem | None:
        return self.items.get(environment_id)

    def warm_oldest_first(self) -> Iterator[str]:
        warm = sorted((i.created_at, k) for k, i in self.items.items() if i.status == "WARM")
        for _, key in warm:
            yield key

    def try_claim(self, environment_id: str, *, trial_id: str, claimed_at: str) -> Outcome:
        self.transactions += 1
        if self.conflict:
            self.conflict = False
            return Outcome.CONFLICT
        if environment_id == self.steal:
            self._take(environment_id, "someone-else")
        if self.record_first is not None:
            self._take(self.record_first, trial_id)
            self.record_first = None
        row = self.trials.get(trial_id)
        if row is None or row.status != "REQUESTED" or row.environment_id is not None:
            return Outcome.TRIAL_CHANGED
        if self.items[environment_id].status != "WARM":
            return Outcome.TAKEN
        self._take(environment_id, trial_id)
        return Outcome.CLAIMED

    def _take(self, environment_id: str, trial_id: str) -> None:
        item = self.items[environment_id]
        self.items[environment_id] = PoolItem(
            environment_id, item.stack_name, "CLAIMED", item.created_at, trial_id
        )
        if trial_id in self.trials:
            self.trials[trial_id] = TrialRow("ASSIGNED", environment_id)


def pool_of(*environments: tuple[str, str], **kwargs: Any) -> FakeClaims:
    claims = FakeClaims(trials={TRIAL_ID: TrialRow("REQUESTED")}, **kwargs)
    for environment_id, created_at in environments:
        claims.add(environment_id, created_at)
    return claims


def test_a_claim_takes_the_oldest_warm_environment_and_records_it_on_the_trial() -> None:
    claims = pool_of(("newer", "2026-11-24T10:00:00.000Z"), ("older", "2026-11-24T09:00:00.000Z"))
    claims.add("booting", "2026-11-24T08:00:00.000Z", status="PROVISIONING")
    environment = claim(TRIAL_ID, claims=claims, now="2026-11-24T11:00:00.000Z")
    assert environment.environment_id == "older"
    assert claims.trials[TRIAL_ID] == TrialRow("ASSIGNED", "older")


def test_a_claim_that_loses_the_race_for_an_environment_takes_the_next() -> None:
    # Given two warm environments, the older of which a concurrent claim takes first
    claims = pool_of(("newer", "2"), ("older", "1"), steal="older")
    # When this trial claims
    environment = claim(TRIAL_ID, claims=claims, now="now")
    # Then it gets the other one, and the stolen one stays with its claimant
    assert environment.environment_id == "newer"
    assert claims.items["older"].trial_id == "someone-else"


def test_a_trial_with_an_environment_on_its_row_gets_that_one_and_claims_nothing() -> None:
    claims = pool_of(("a", "1"), ("b", "2"))
    first = claim(TRIAL_ID, claims=claims, now="now")
    second = claim(TRIAL_ID, claims=claims, now="later")
    assert first == second and claims.transactions == 1
    assert claims.items["b"].status == "WARM"


def test_a_concurrent_retry_that_records_first_leaves_this_claim_with_its_environment() -> None:
    # Given a retry of the same claim that records "a" on the row just before this attempt's transaction
    claims = pool_of(("a", "1"), ("b", "2"), record_first="a")
    # When this attempt claims
    environment = claim(TRIAL_ID, claims=claims, now="now")
    # Then the trial row's condition stops it, and it answers with what the row holds: one environment
    assert environment.environment_id == "a"
    assert claims.items["b"].status == "WARM"


def test_a_contended_trial_row_raises_claim_conflict_for_the_workflow_to_retry() -> None:
    claims = pool_of(("a", "1"), conflict=True)
    with pytest.raises(ClaimConflict):
        claim(TRIAL_ID, claims=claims, now="now")
    assert claim(TRIAL_ID, claims=claims, now="now").environment_id == "a"


def test_an_empty_pool_raises_pool_empty_naming_the_trial() -> None:
    claims = pool_of()
    claims.add("taken", "1", status="CLAIMED")
    with pytest.raises(PoolEmpty, match=f"no warm environment for trial {TRIAL_ID}"):
        claim(TRIAL_ID, claims=claims, now="now")
    assert PoolEmpty.__name__ == "PoolEmpty"  # Lambda's errorType, which the workflow's Catch names


@pytest.mark.parametrize("row", [None, TrialRow("FAILED"), TrialRow("NEEDS_ATTENTION")])
def test_a_trial_gone_or_no_longer_requested_claims_nothing(row: TrialRow | None) -> None:
    claims = pool_of(("a", "1"))
    claims.trials = {} if row is None else {TRIAL_ID: row}
    with pytest.raises(TrialNotClaimable):
        claim(TRIAL_ID, claims=claims, now="now")
    assert claims.transactions == 0 and claims.items["a"].status == "WARM"


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
