"""The event contracts: what they accept, what they reject, and that the sample entries obey them."""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shared.contracts.registry import CONTRACTS, contract_for
from shared.contracts.user_signup import UserSignup
from shared.validation import describe, field_errors

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"


def test_a_valid_signup_is_accepted_and_normalised() -> None:
    # Given a signup detail with stray whitespace
    detail = {"email": " testuser@example.com ", "name": " Test User "}
    # When it is parsed
    signup = UserSignup.model_validate(detail)
    # Then it is accepted, trimmed, and versioned 1.0
    assert (signup.email, signup.name, signup.version) == ("testuser@example.com", "Test User", "1.0")


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ({"name": "Test User"}, "email"),
        ({"email": "not-an-email", "name": "Test User"}, "email"),
        ({"email": "a@b", "name": "Test User"}, "email"),
        ({"email": "two@@example.com", "name": "Test User"}, "email"),
        ({"email": "space in@example.com", "name": "Test User"}, "email"),
        ({"email": ("x" * 250) + "@example.com", "name": "Test User"}, "email"),
        ({"email": "testuser@example.com"}, "name"),
        ({"email": "testuser@example.com", "name": "   "}, "name"),
        ({"email": "testuser@example.com", "name": "x" * 101}, "name"),
        ({"email": "testuser@example.com", "name": "Eve\r\nBcc: all@example.com"}, "name"),
        ({"email": "testuser@example.com", "name": "Test User", "version": "2.0"}, "version"),
    ],
)
def test_a_malformed_signup_is_rejected_naming_the_field(detail: dict[str, str], field: str) -> None:
    # Given a detail that breaks the contract
    # When it is parsed
    with pytest.raises(ValidationError) as error:
        UserSignup.model_validate(detail)
    # Then the error names the offending field
    assert field in {str(e["loc"][0]) for e in error.value.errors()}


@pytest.mark.parametrize("detail", ["a string", 42, ["testuser@example.com"], None])
def test_a_detail_that_is_not_an_object_is_rejected(detail: object) -> None:
    with pytest.raises(ValidationError):
        UserSignup.model_validate(detail)


@pytest.mark.parametrize("sample", sorted(EVENTS_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_sample_entry_file_satisfies_its_contract(sample: Path) -> None:
    # Given a put-events entries file as users pass it to `aws events put-events --entries file://...`
    entries = json.loads(sample.read_text())
    assert isinstance(entries, list) and 1 <= len(entries) <= 10
    for entry in entries:
        # Then each entry has what PutEvents needs and a detail its contract accepts
        assert {"Source", "DetailType", "Detail"} <= entry.keys()
        model = contract_for(entry["Source"], entry["DetailType"])
        model.model_validate(json.loads(entry["Detail"]))


# -- no contract's errors repeat the input ----------------------------------------------------------

# An e-mail address stands for any personal value: it must never come back in an error.
SENTINEL = "leak.sentinel+42@example.com"


def contract_models() -> list[type[BaseModel]]:
    """Every pydantic model of shared.contracts (events, their parts, the API's request bodies)."""
    import shared.contracts as package

    found: dict[str, type[BaseModel]] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
                and not value.__pydantic_generic_metadata__["parameters"]  # the generic envelope
            ):
                found[f"{module.__name__}.{name}"] = value
    return list(found.values())


def test_the_search_finds_every_registered_contract_and_the_api_bodies() -> None:
    from shared.contracts.orders import PlaceOrderRequest
    from shared.contracts.trials import RequestTrial

    models = set(contract_models())
    assert set(CONTRACTS.values()) | {PlaceOrderRequest, RequestTrial} <= models


def sample_details() -> dict[type[BaseModel], dict[str, Any]]:
    """A valid detail per registered contract, from the sample entries in events/."""
    details: dict[type[BaseModel], dict[str, Any]] = {}
    for sample in sorted(EVENTS_DIR.glob("*.json")):
        [entry] = json.loads(sample.read_text())
        details[contract_for(entry["Source"], entry["DetailType"])] = json.loads(entry["Detail"])
    return details


def invalid_inputs(model: type[BaseModel], valid: dict[str, Any] | None) -> list[Any]:
    """Inputs that break the model, each carrying the sentinel: as a whole, as every field, as a key,
    inside lists and objects; and, from a valid detail, in one field at a time."""
    fields = list(model.model_fields)
    inputs: list[Any] = [
        SENTINEL,
        [SENTINEL],
        {SENTINEL: SENTINEL},
        {name: SENTINEL for name in fields},
        {name: [SENTINEL] for name in fields},
        {name: {SENTINEL: SENTINEL} for name in fields},
        {name: [{SENTINEL: SENTINEL}] for name in fields},
        {name: [dict.fromkeys(fields, SENTINEL)] for name in fields},
    ]
    if valid is not None:
        inputs += [{**valid, name: SENTINEL} for name in fields]
        inputs += [{**valid, name: [SENTINEL]} for name in fields]
        inputs += [{**valid, SENTINEL: SENTINEL}]
        for name, value in valid.items():  # inside the items of a list of objects (order lines)
            if isinstance(value, list) and value and isinstance(value[0], dict):
                inputs += [{**valid, name: [{**value[0], key: SENTINEL}]} for key in value[0]]
    return inputs


@pytest.mark.parametrize("model", contract_models(), ids=lambda m: m.__name__)
def test_no_contracts_validation_errors_repeat_the_input(model: type[BaseModel]) -> None:
    # Given inputs that break the contract, each carrying a personal value
    samples = sample_details()
    rejected = 0
    for given in invalid_inputs(model, samples.get(model)):
        # When it is validated
        try:
            model.model_validate(given)
        except ValidationError as error:
            rejected += 1
            # Then neither the formatted errors nor their one-line form repeat the value
            formatted = field_errors(error)
            assert formatted and SENTINEL not in json.dumps(formatted), (model.__name__, given)
            assert SENTINEL not in describe(error)
            assert all(set(e) == {"field", "error"} for e in formatted)
    assert rejected >= 5, f"{model.__name__}: too few inputs were rejected for the check to mean anything"


def test_the_formatter_hides_keys_that_came_from_the_input() -> None:
    # Given an unexpected field named after a personal value, next to a broken known one
    with pytest.raises(ValidationError) as error:
        UserSignup.model_validate({"email": "x", "name": "A", SENTINEL: 1})
    # Then the known field is named, and the unexpected key is not repeated
    fields = [e["field"] for e in field_errors(error.value)]
    assert "email" in fields and SENTINEL not in json.dumps(fields)


def test_the_formatter_names_a_violation_of_the_whole_object_by_its_root() -> None:
    # Given a detail that is not an object at all
    with pytest.raises(ValidationError) as error:
        UserSignup.model_validate(["not", "an", "object"])
    # Then the violation is placed on the body, or on the root the caller names
    assert [e["field"] for e in field_errors(error.value)] == ["body"]
    assert describe(error.value, root="detail").startswith("detail: ")


def test_the_metrics_consumer_knows_every_registered_event() -> None:
    # metrics repeats the (source, DetailType) pairs so as not to import pydantic; unknown ones count as other
    from metrics.service import KNOWN_EVENTS

    assert set(CONTRACTS) <= KNOWN_EVENTS, set(CONTRACTS) - KNOWN_EVENTS
