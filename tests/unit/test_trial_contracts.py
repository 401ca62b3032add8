"""The online-trial contracts: the exact detail, one status per DetailType, the API body, the samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts.trials import (
    TRIAL_EVENTS,
    TRIAL_ID_PATTERN,
    InvalidTrialEvent,
    RequestTrial,
    TrialAssigned,
    TrialAssignmentFailed,
    TrialEvent,
    TrialExpired,
    TrialNeedsAttention,
    TrialRequested,
    parse_trial_event,
)

ROOT = Path(__file__).resolve().parents[2]
TRIAL_ID = "3f8a2c1e-7b4d-4e2a-9c6f-1d2e3f4a5b6c"
STATUS_OF: dict[type[TrialEvent], str] = {
    TrialRequested: "REQUESTED",
    TrialAssigned: "ASSIGNED",
    TrialAssignmentFailed: "FAILED",
    TrialExpired: "EXPIRED",
    TrialNeedsAttention: "NEEDS_ATTENTION",
}
# The fields an event has beyond the six every trial event carries.
EXTRA: dict[type[TrialEvent], dict[str, Any]] = {
    TrialNeedsAttention: {
        "reason": "still REQUESTED 2700 s after the request",
        "previousStatus": "REQUESTED",
    },
}
SAMPLES: dict[str, type[TrialEvent]] = {
    "trial_requested.json": TrialRequested,
    "trial_assigned.json": TrialAssigned,
    "trial_assignment_failed.json": TrialAssignmentFailed,
    "trial_expired.json": TrialExpired,
    "trial_needs_attention.json": TrialNeedsAttention,
}


def detail(status: str = "REQUESTED", **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "version": "1.0",
        "trialId": TRIAL_ID,
        "leadId": "lead-0042",
        "type": "ACS",
        "requestedAt": 1_795_514_400,
        "status": status,
    }
    return {**base, **changes}


def detail_of(model: type[TrialEvent], status: str | None = None, **changes: Any) -> dict[str, Any]:
    """A valid detail of the model (with its extra fields), its status replaced by `status` if given."""
    return detail(status or STATUS_OF[model], **{**EXTRA.get(model, {}), **changes})


def envelope(detail_type: str, body: Any, *, event_id: str = "evt-1", source: str = "OnlineTrial") -> dict:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-11-24T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": body,
    }


@pytest.mark.parametrize("model", TRIAL_EVENTS, ids=lambda m: m.DETAIL_TYPE)
def test_each_event_has_the_source_its_name_as_detail_type_and_exactly_its_fields(
    model: type[TrialEvent],
) -> None:
    # Given a detail with the event's own status (and the fields it has beyond the six)
    given = detail_of(model)
    # When it is parsed and serialized again
    event = model.model_validate(given)
    # Then it is accepted, and the serialized detail is exactly the contract's structure
    assert ("OnlineTrial", model.__name__) == (model.SOURCE, model.DETAIL_TYPE)
    assert json.loads(event.model_dump_json()) == given
    assert set(model.model_json_schema()["required"]) == set(given)
    assert model.model_json_schema()["additionalProperties"] is False


@pytest.mark.parametrize("model", [m for m in TRIAL_EVENTS if m not in EXTRA], ids=lambda m: m.DETAIL_TYPE)
def test_of_fills_in_the_version_and_the_events_status(model: type[TrialEvent]) -> None:
    event = model.of(trial_id=TRIAL_ID, lead_id="lead-0042", trial_type="ACS", requested_at=1_795_514_400)
    assert json.loads(event.model_dump_json()) == detail(STATUS_OF[model])


@pytest.mark.parametrize(
    ("model", "status"),
    [
        (model, status)
        for model in TRIAL_EVENTS
        for status in STATUS_OF.values()
        if status != STATUS_OF[model]
    ],
    ids=str,
)
def test_a_status_that_is_not_the_events_own_is_rejected(model: type[TrialEvent], status: str) -> None:
    # Given e.g. a TrialExpired detail that says REQUESTED
    # When it is parsed
    with pytest.raises(ValidationError) as error:
        model.model_validate(detail_of(model, status))
    # Then the status is what is wrong
    assert {e["loc"][0] for e in error.value.errors()} == {"status"}


@pytest.mark.parametrize("model", TRIAL_EVENTS, ids=lambda m: m.DETAIL_TYPE)
def test_an_extra_field_is_rejected(model: type[TrialEvent]) -> None:
    with pytest.raises(ValidationError) as error:
        model.model_validate(detail_of(model, environmentId="abc123"))
    assert {e["loc"][0] for e in error.value.errors()} == {"environmentId"}


@pytest.mark.parametrize("field", ["version", "trialId", "leadId", "type", "requestedAt", "status"])
def test_every_field_is_required(field: str) -> None:
    given = detail()
    del given[field]
    with pytest.raises(ValidationError) as error:
        TrialRequested.model_validate(given)
    assert {e["loc"][0] for e in error.value.errors()} == {field}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", "2.0"),
        ("trialId", "not-a-uuid"),
        ("trialId", TRIAL_ID.upper()),
        ("leadId", ""),
        ("leadId", "   "),
        ("leadId", "x" * 65),
        ("leadId", "lead\n42"),
        ("leadId", 42),
        ("type", ""),
        ("type", "acs"),
        ("type", "A" * 17),
        ("type", "A CS"),
        ("requestedAt", "1795514400"),
        ("requestedAt", 1_795_514_400.5),
        ("requestedAt", True),
        ("requestedAt", 0),
        ("requestedAt", None),
    ],
)
def test_a_malformed_field_is_rejected_and_named(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as error:
        TrialRequested.model_validate({**detail(), field: value})
    assert {e["loc"][0] for e in error.value.errors()} == {field}


@pytest.mark.parametrize("body", ["a string", 42, [TRIAL_ID], None])
def test_a_detail_that_is_not_an_object_is_rejected(body: object) -> None:
    with pytest.raises(ValidationError):
        TrialRequested.model_validate(body)


@pytest.mark.parametrize("field", ["reason", "previousStatus"])
def test_needs_attention_requires_why_and_the_status_it_left(field: str) -> None:
    given = detail_of(TrialNeedsAttention)
    del given[field]
    with pytest.raises(ValidationError) as error:
        TrialNeedsAttention.model_validate(given)
    assert {e["loc"][0] for e in error.value.errors()} == {field}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("reason", ""),
        ("reason", "x" * 1001),
        ("reason", 42),
        ("previousStatus", "STUCK"),
        ("previousStatus", None),
    ],
)
def test_a_malformed_needs_attention_field_is_rejected_and_named(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as error:
        TrialNeedsAttention.model_validate(detail_of(TrialNeedsAttention, **{field: value}))
    assert {e["loc"][0] for e in error.value.errors()} == {field}


def test_a_valid_trial_request_is_accepted() -> None:
    assert RequestTrial.model_validate_json('{"leadId": "lead 42", "type": "ACS_2-X"}') == RequestTrial(
        leadId="lead 42", type="ACS_2-X"
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"type": "ACS"}', "leadId"),
        ('{"leadId": "lead-1"}', "type"),
        ('{"leadId": "", "type": "ACS"}', "leadId"),
        ('{"leadId": 42, "type": "ACS"}', "leadId"),
        ('{"leadId": "lead-1", "type": "acs"}', "type"),
        ('{"leadId": "lead-1", "type": "ACS", "status": "ASSIGNED"}', "status"),
    ],
)
def test_a_malformed_trial_request_is_rejected_naming_the_field(body: str, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        RequestTrial.model_validate_json(body)
    assert {e["loc"][0] for e in error.value.errors()} == {field}


def test_parse_trial_event_types_the_detail_by_its_detail_type() -> None:
    # Given an EventBridge event of one of the accepted types
    event = envelope("TrialExpired", detail("EXPIRED"))
    # When it is parsed
    parsed = parse_trial_event(event, TrialAssigned, TrialExpired)
    # Then the detail has that type
    assert isinstance(parsed.detail, TrialExpired)
    assert parsed.id == "evt-1"


@pytest.mark.parametrize(
    ("event", "says"),
    [
        (envelope("TrialAssigned", detail("ASSIGNED")), "OnlineTrial/TrialAssigned is not one of"),
        (envelope("TrialRequested", detail(), source="myapp.orders"), "another source or detail-type"),
        (envelope("TrialRequested", detail("EXPIRED")), "status"),
        (envelope("TrialRequested", detail(leadId="")), "leadId"),
        (envelope("TrialRequested", "not an object"), "detail"),
    ],
)
def test_parse_trial_event_names_the_event_and_what_is_wrong(event: dict, says: str) -> None:
    with pytest.raises(InvalidTrialEvent) as error:
        parse_trial_event(event, TrialRequested)
    assert "evt-1" in str(error.value)
    assert says in str(error.value)


@pytest.mark.parametrize("sample", sorted(SAMPLES), ids=str)
def test_each_trial_sample_is_a_put_events_entry_of_its_contract(sample: str) -> None:
    # Given the sample as users pass it to `aws events put-events --entries file://events/...`
    [entry] = json.loads((ROOT / "events" / sample).read_text())
    model = SAMPLES[sample]
    # Then it goes to the default bus (forwarded to the app's bus) with the contract's source and type
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        model.SOURCE,
        model.DETAIL_TYPE,
        "default",
    )
    model.model_validate_json(entry["Detail"])


def test_the_request_trial_sample_body_is_a_valid_request() -> None:
    RequestTrial.model_validate_json((ROOT / "events" / "api" / "request_trial.json").read_text())


def test_the_copies_of_contract_strings_outside_the_contracts_stay_in_step() -> None:
    # trial_pool and metrics repeat these so as not to import pydantic on a cold start
    from metrics.service import BUSINESS_COUNTS
    from trial_pool.service import TRIAL_ID_PATTERN as POOL_TRIAL_ID_PATTERN

    assert POOL_TRIAL_ID_PATTERN == TRIAL_ID_PATTERN
    # TrialNeedsAttention is counted by the sweep that moves the trial (TrialsNeedingAttention, alarmed)
    assert {key for key in BUSINESS_COUNTS if key[0] == "OnlineTrial"} == {
        (model.SOURCE, model.DETAIL_TYPE) for model in TRIAL_EVENTS if model is not TrialNeedsAttention
    }


SECRET = "jane.doe@example.com"  # what a sender might put where it does not belong


@pytest.mark.parametrize("model", TRIAL_EVENTS)
@pytest.mark.parametrize(
    "body",
    [
        detail(leadId=SECRET + "\x00"),
        detail(trialId=SECRET),
        detail(type=SECRET),
        detail(requestedAt=SECRET),
        detail(status=SECRET),
        {**detail(), SECRET: "x"},
        {**detail(), "note": SECRET},
    ],
)
def test_no_contract_error_echoes_a_value_of_the_event(model: type[TrialEvent], body: dict[str, Any]) -> None:
    # Given an event of the model's type with a value it must not repeat
    event = envelope(model.DETAIL_TYPE, body)
    # When it is parsed, and when it is parsed as another type
    for accepted in (model, next(m for m in TRIAL_EVENTS if m is not model)):
        with pytest.raises(InvalidTrialEvent) as error:
            parse_trial_event(event, accepted)
        # Then the error names the event and what is wrong, never the value (nor a made-up field name)
        assert "evt-1" in str(error.value) and SECRET not in str(error.value)


def test_no_request_error_echoes_a_value_of_the_body() -> None:
    with pytest.raises(ValidationError) as error:
        RequestTrial.model_validate_json(json.dumps({"leadId": SECRET + "\x00", "type": SECRET}))
    assert SECRET not in json.dumps(error.value.errors(include_input=False, include_url=False))


def test_an_event_from_another_source_is_not_named_in_the_error() -> None:
    with pytest.raises(InvalidTrialEvent) as error:
        parse_trial_event(envelope(SECRET, detail(), source=SECRET), TrialRequested)
    assert SECRET not in str(error.value)
