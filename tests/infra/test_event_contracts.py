"""What the synthesized app publishes and routes agrees with the contracts; the catalog computes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.contracts import names
from shared.contracts.examples import EXAMPLES
from shared.contracts.registry import CONTRACTS
from tests.infra.helpers import resources
from tools import catalog

ROOT = Path(__file__).resolve().parents[2]
Templates = dict[str, dict[str, Any]]


def test_every_event_a_workflow_publishes_has_exactly_its_contracts_fields(templates: Templates) -> None:
    # Given every entry of every events:putEvents task of every state machine
    entries = catalog.put_events_entries(templates)
    assert {(e.source, e.detail_type) for e in entries} >= {
        (names.TRIALS, names.TRIAL_ASSIGNED),
        (names.TRIALS, names.TRIAL_ASSIGNMENT_FAILED),
    }
    for entry in entries:
        # Then its source and DetailType have a contract
        key = (entry.source, entry.detail_type)
        assert key in CONTRACTS, f"{entry.state_machine}/{entry.state} publishes {key}, which has no contract"
        model = CONTRACTS[key]
        # And its detail has the model's required fields and no other than the model's
        keys = {name.removesuffix(".$") for name in entry.detail}
        required = {name for name, field in model.model_fields.items() if field.is_required()}
        assert required <= keys <= set(model.model_fields), (entry.state, keys ^ set(model.model_fields))
        # And its literal values (a status, a version) are ones the model accepts, paths filled as the example
        literals = {name: value for name, value in entry.detail.items() if not name.endswith(".$")}
        model.model_validate({**EXAMPLES[key], **literals})


def test_the_catalog_names_a_producer_for_every_event_the_app_puts(templates: Templates) -> None:
    for source, detail_type in names.APP_EVENTS:
        found = catalog.producers(templates, source, detail_type)
        # The tutorial's event comes from outside the app; every other one from exactly one producer
        assert len(found) == (0 if source == names.USERS else 1), (detail_type, found)


def test_a_declared_producer_without_the_grant_to_put_events_is_refused(templates: Templates) -> None:
    # welcome_email sends mail and puts no events: declaring it a producer is an error, not a catalog line
    with pytest.raises(ValueError, match="may not put events"):
        catalog.function_producer(templates, "welcome_email")
    with pytest.raises(ValueError, match="no function of the app runs lambdas/nothing_here"):
        catalog.function_producer(templates, "nothing_here")


def test_consumers_are_the_rules_whose_pattern_matches_the_sample(templates: Templates) -> None:
    # Given the rules of the app on its bus
    rules = [r for r in catalog.rules(templates) if not r.on_default_bus]
    # When the TrialExpired sample is matched
    [entry] = json.loads((ROOT / "events" / "trial_expired.json").read_text())
    event = catalog.sample_event(entry)
    matched = {r.logical_id for r in rules if catalog.matches(r.pattern, event)}
    # Then it is the metrics consumer and the environment manager, and no other rule
    assert len(matched) == 2 and all(("Metrics" in m) or ("EnvironmentManager" in m) for m in matched)
    # And the same event with another DetailType reaches only the metrics consumer (its pattern is the source)
    other = {**event, "detail-type": names.TRIAL_NEEDS_ATTENTION}
    assert [r.logical_id for r in rules if catalog.matches(r.pattern, other)] == [
        m for m in matched if "Metrics" in m
    ]


def test_only_the_tutorials_source_is_forwarded_from_the_default_bus(templates: Templates) -> None:
    forwarders = [r for r in catalog.rules(templates) if r.on_default_bus]
    for source, detail_type in names.APP_EVENTS:
        event = catalog.sample_event(
            {
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(EXAMPLES[(source, detail_type)]),
            }
        )
        forwarded = [r for r in forwarders if catalog.matches(r.pattern, event)]
        assert bool(forwarded) == (source == names.USERS), (detail_type, forwarded)


def test_the_schema_registry_has_a_schema_per_event_with_the_generated_content(
    templates: Templates,
) -> None:
    schemas = {p["SchemaName"]: p for _, _, p in resources(templates, "AWS::EventSchemas::Schema")}
    assert set(schemas) == {f"{s}@{d}" for s, d in names.APP_EVENTS}
    for source, detail_type in names.APP_EVENTS:
        props = schemas[f"{source}@{detail_type}"]
        assert props["Type"] == "JSONSchemaDraft4"
        generated = json.loads((ROOT / f"schemas/events/{names.file_stem(detail_type)}.json").read_text())
        assert json.loads(props["Content"]) == generated
    [(stack, _, _)] = list(resources(templates, "AWS::EventSchemas::Registry"))
    assert stack.endswith("-Eventing")
