"""The trial request services with fakes for their ports (the API's store, the assignment workflow): no AWS.
The stream, pool and environment services have files of their own."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from assign_trial.service import Started, start_assignment
from shared.contracts.trials import RequestTrial, TrialRequested
from trials_api.service import (
    Contended,
    Guard,
    IdempotencyKeyReused,
    RequestKey,
    RequestNotStored,
    Trial,
    find_trial,
    request_key,
    request_trial,
)

TRIAL_ID = "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c"
OTHER_TRIAL = "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a"
LEAD_KEY = request_key(RequestTrial(leadId="lead-1", type="ACS"), caller="c", idempotency_key=None)


# --- trials API ----------------------------------------------------------------------------------


@dataclass
class FakeTrialStore:
    """Rows by id, guards by request key; `contended` conflicts that many writes first."""

    rows: dict[str, Trial] = field(default_factory=dict)
    guards: dict[str, tuple[str, str, int]] = field(
        default_factory=dict
    )  # key -> (trial, fingerprint, expiry)
    contended: int = 0

    def put_new(self, trial: Trial, *, request: RequestKey, now: int, replacing: str | None) -> Guard | None:
        if self.contended:
            self.contended -= 1
            raise Contended("busy")
        held = self.guards.get(request.key)
        if held is not None and held[2] > now and held[0] != replacing:
            return Guard(trial_id=held[0], fingerprint=held[1])
        assert trial.trial_id not in self.rows
        self.rows[trial.trial_id] = trial
        self.guards[request.key] = (trial.trial_id, request.fingerprint, trial.expires_at)
        return None

    def get(self, trial_id: str) -> Trial | None:
        return self.rows.get(trial_id)


def test_a_trial_request_is_stored_as_requested_and_expires_after_the_trial_duration() -> None:
    # Given a valid request
    store = FakeTrialStore()
    # When it is handled at t=1000 with a one-hour trial
    requested = request_trial(
        RequestTrial(leadId="lead-1", type="ACS"),
        key=LEAD_KEY,
        store=store,
        now=1000,
        duration_seconds=3600,
        new_id=lambda: TRIAL_ID,
    )
    # Then the row is REQUESTED, stamped now, and expires an hour later
    trial = requested.trial
    assert requested.created and store.rows[TRIAL_ID] == trial
    assert (trial.status, trial.requested_at, trial.expires_at) == ("REQUESTED", 1000, 4600)
    assert find_trial(TRIAL_ID, store=store, now=1000) == trial
    assert find_trial(OTHER_TRIAL, store=store, now=1000) is None


def test_the_same_request_again_is_the_same_trial_until_it_expires() -> None:
    store = FakeTrialStore()
    request = RequestTrial(leadId="lead-1", type="ACS")
    first = request_trial(
        request, key=LEAD_KEY, store=store, now=1, duration_seconds=100, new_id=lambda: TRIAL_ID
    )
    again = request_trial(
        request, key=LEAD_KEY, store=store, now=50, duration_seconds=100, new_id=lambda: OTHER_TRIAL
    )
    assert (again.created, again.trial) == (False, first.trial)
    later = request_trial(
        request, key=LEAD_KEY, store=store, now=101, duration_seconds=100, new_id=lambda: OTHER_TRIAL
    )
    assert later.created and later.trial.trial_id == OTHER_TRIAL


def test_a_key_whose_trial_row_is_gone_goes_to_the_new_trial() -> None:
    store = FakeTrialStore()
    request = RequestTrial(leadId="lead-1", type="ACS")
    request_trial(request, key=LEAD_KEY, store=store, now=1, duration_seconds=100, new_id=lambda: TRIAL_ID)
    del store.rows[TRIAL_ID]  # an operator deleted it
    again = request_trial(
        request, key=LEAD_KEY, store=store, now=2, duration_seconds=100, new_id=lambda: OTHER_TRIAL
    )
    assert again.created and store.guards[LEAD_KEY.key][0] == OTHER_TRIAL


def test_request_keys_are_per_lead_and_type_or_per_callers_idempotency_key() -> None:
    acs, bcs = RequestTrial(leadId="lead-1", type="ACS"), RequestTrial(leadId="lead-1", type="BCS")
    assert request_key(acs, caller="a", idempotency_key=None) == request_key(
        acs, caller="b", idempotency_key=None
    )
    assert request_key(acs, caller="a", idempotency_key=None) != request_key(
        bcs, caller="a", idempotency_key=None
    )
    keyed = request_key(acs, caller="a", idempotency_key="key-12345")
    assert keyed != request_key(acs, caller="b", idempotency_key="key-12345")
    assert "lead-1" not in keyed.key and "key-12345" not in keyed.key


def test_a_key_used_for_another_body_is_refused() -> None:
    store = FakeTrialStore()
    key = request_key(RequestTrial(leadId="lead-1", type="ACS"), caller="a", idempotency_key="key-12345")
    request_trial(RequestTrial(leadId="lead-1", type="ACS"), key=key, store=store, now=1, duration_seconds=9)
    other = request_key(RequestTrial(leadId="lead-2", type="ACS"), caller="a", idempotency_key="key-12345")
    with pytest.raises(IdempotencyKeyReused) as error:
        request_trial(
            RequestTrial(leadId="lead-2", type="ACS"), key=other, store=store, now=1, duration_seconds=9
        )
    assert "lead-2" not in str(error.value) and "key-12345" not in str(error.value)


def test_a_contended_key_is_tried_again_and_then_given_up() -> None:
    request = RequestTrial(leadId="lead-1", type="ACS")
    pauses: list[float] = []
    store = FakeTrialStore(contended=2)
    assert request_trial(
        request, key=LEAD_KEY, store=store, now=1, duration_seconds=9, pause=pauses.append
    ).created
    assert pauses == [0.05, 0.1]
    with pytest.raises(RequestNotStored):
        request_trial(
            request,
            key=LEAD_KEY,
            store=FakeTrialStore(contended=3),
            now=1,
            duration_seconds=9,
            pause=pauses.append,
        )


def test_a_trial_reads_expired_from_its_expiry_on() -> None:
    store = FakeTrialStore()
    request_trial(
        RequestTrial(leadId="a", type="ACS"),
        key=LEAD_KEY,
        store=store,
        now=0,
        duration_seconds=10,
        new_id=lambda: TRIAL_ID,
    )
    assert find_trial(TRIAL_ID, store=store, now=9).status == "REQUESTED"  # type: ignore[union-attr]
    assert find_trial(TRIAL_ID, store=store, now=10).status == "EXPIRED"  # type: ignore[union-attr]


@pytest.mark.parametrize("trial_id", ["", "x" * 2000, TRIAL_ID.upper(), TRIAL_ID + "\n", "../" + TRIAL_ID])
def test_an_id_that_is_not_a_trial_id_is_never_looked_up(trial_id: str) -> None:
    class NoLookups(FakeTrialStore):
        def get(self, trial_id: str) -> Trial | None:
            raise AssertionError("looked up")

    assert find_trial(trial_id, store=NoLookups(), now=0) is None


def test_each_new_request_gets_its_own_trial_id() -> None:
    store = FakeTrialStore()
    first = request_trial(
        RequestTrial(leadId="a", type="ACS"), key=LEAD_KEY, store=store, now=1, duration_seconds=1
    )
    other = request_key(RequestTrial(leadId="b", type="ACS"), caller="c", idempotency_key=None)
    second = request_trial(
        RequestTrial(leadId="b", type="ACS"), key=other, store=store, now=1, duration_seconds=1
    )
    assert first.trial.trial_id != second.trial.trial_id
    assert TrialRequested.of(
        trial_id=first.trial.trial_id, lead_id="a", trial_type="ACS", requested_at=1
    )  # a row the stream can turn into an event


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


def test_a_lead_whose_trial_failed_may_ask_again_but_a_keyed_retry_gets_the_failed_trial() -> None:
    # Given a lead's trial that FAILED (the pool was empty)
    store = FakeTrialStore()
    request = RequestTrial(leadId="lead-1", type="ACS")
    first = request_trial(
        request, key=LEAD_KEY, store=store, now=1, duration_seconds=100, new_id=lambda: TRIAL_ID
    )
    store.rows[TRIAL_ID] = replace(first.trial, status="FAILED")
    # When the lead asks again (no Idempotency-Key): a new trial
    again = request_trial(
        request, key=LEAD_KEY, store=store, now=2, duration_seconds=100, new_id=lambda: OTHER_TRIAL
    )
    assert again.created and again.trial.trial_id == OTHER_TRIAL
    # But a retry under an Idempotency-Key answers what the key answered: the failed trial
    keyed = request_key(request, caller="c", idempotency_key="key-12345")
    failed = request_trial(request, key=keyed, store=store, now=3, duration_seconds=100, new_id=lambda: "t-3")
    store.rows["t-3"] = replace(failed.trial, status="FAILED")
    retry = request_trial(request, key=keyed, store=store, now=4, duration_seconds=100, new_id=lambda: "t-4")
    assert (retry.created, retry.trial.trial_id, retry.trial.status) == (False, "t-3", "FAILED")
