"""The generated schemas say what the pydantic models say: API Gateway's request models and the registry's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from pydantic import BaseModel, ValidationError

from shared.contracts import names
from shared.contracts.examples import EXAMPLES
from shared.contracts.orders import PlaceOrderRequest
from shared.contracts.registry import CONTRACTS
from shared.contracts.trials import RequestTrial
from stacks.constructs.app_api import REQUEST_MODELS
from tools import contracts

ROOT = Path(__file__).resolve().parents[2]
ORDER = json.loads((ROOT / "events" / "api" / "place_order.json").read_text())
TRIAL = json.loads((ROOT / "events" / "api" / "request_trial.json").read_text())
LINE = ORDER["lines"][0]

# Bodies API Gateway sees: the valid samples, and each way a body can break its contract.
ORDER_BODIES: list[Any] = [
    ORDER,
    {**ORDER, "onBehalfOf": "customer-0001"},
    {**ORDER, "lines": []},
    {**ORDER, "lines": [LINE] * 51},
    {**ORDER, "lines": [{**LINE, "sku": "lower-case"}]},
    {**ORDER, "lines": [{**LINE, "sku": ""}]},
    {**ORDER, "lines": [{**LINE, "quantity": 0}]},
    {**ORDER, "lines": [{**LINE, "quantity": 101}]},
    {**ORDER, "lines": [{**LINE, "unitPriceCents": 1}]},
    {**ORDER, "currency": "CHF"},
    {**ORDER, "paymentToken": ""},
    {**ORDER, "paymentToken": "tok\x00"},
    {**ORDER, "paymentToken": "x" * 65},
    {**ORDER, "onBehalfOf": ""},
    {**ORDER, "totalCents": 1},
    {key: value for key, value in ORDER.items() if key != "currency"},
    [ORDER],
]
TRIAL_BODIES: list[Any] = [
    TRIAL,
    {**TRIAL, "leadId": ""},
    {**TRIAL, "leadId": "   "},
    {**TRIAL, "leadId": "x" * 65},
    {**TRIAL, "type": "acs"},
    {**TRIAL, "type": "X" * 17},
    {**TRIAL, "extra": 1},
    {"leadId": "lead-0042"},
]


def accepts(model: type[BaseModel], body: Any) -> bool:
    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("name", "model", "bodies"),
    [("PlaceOrder", PlaceOrderRequest, ORDER_BODIES), ("RequestTrial", RequestTrial, TRIAL_BODIES)],
)
def test_the_apis_request_model_accepts_what_the_contract_accepts(
    name: str, model: type[BaseModel], bodies: list[Any]
) -> None:
    # Given the request model the API stack reads (generated) and the contract it comes from
    schema = REQUEST_MODELS[name]
    Draft4Validator.check_schema(schema)
    validator = Draft4Validator(schema)
    # Then for every body, valid or broken, API Gateway and the contract agree
    verdicts = [(validator.is_valid(body), accepts(model, body)) for body in bodies]
    assert all(api == contract for api, contract in verdicts), [
        (body, verdict) for body, verdict in zip(bodies, verdicts, strict=True) if verdict[0] != verdict[1]
    ]
    # And the check means something: the samples pass and the broken bodies do not
    assert verdicts[0] == (True, True) and sum(api for api, _ in verdicts) <= 2


def envelope(source: str, detail_type: str, detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": source,
        "account": "000000000000",
        "time": "2026-11-22T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def broken_details(valid: dict[str, Any]) -> list[dict[str, Any]]:
    """Each required field left out, and each field given a value of the wrong JSON type."""
    details = [{k: v for k, v in valid.items() if k != name} for name in valid]
    details += [{**valid, name: [] if not isinstance(value, list) else "x"} for name, value in valid.items()]
    return details


@pytest.mark.parametrize(("key", "model"), list(CONTRACTS.items()), ids=lambda v: str(v))
def test_each_registry_schema_accepts_the_example_and_refuses_what_the_contract_refuses(
    key: tuple[str, str], model: type[BaseModel]
) -> None:
    # Given the event's generated schema (the file the registry construct reads)
    stem = names.file_stem(key[1])
    schema = json.loads((ROOT / "schemas" / "events" / f"{stem}.json").read_text())
    Draft4Validator.check_schema(schema)
    validator = Draft4Validator(schema)
    # Then the example event is valid, as an event of its source and type only
    example = EXAMPLES[key]
    assert validator.is_valid(envelope(*key, example))
    assert not validator.is_valid(envelope(key[0], "SomethingElse", example))
    # And a detail the contract refuses for a missing field or a wrong type, the schema refuses too
    for detail in broken_details(example):
        if not accepts(model, detail):
            assert not validator.is_valid(envelope(*key, detail)), detail


def test_the_generator_refuses_an_example_that_breaks_its_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an example whose detail its model refuses
    key = next(iter(EXAMPLES))
    monkeypatch.setitem(EXAMPLES, key, {"email": "not an address", "name": "Test User"})
    # When the samples are generated, Then it fails rather than writing a sample PutEvents would deliver
    with pytest.raises(ValidationError):
        contracts.sample_entries(*key)


def test_the_samples_are_the_examples_as_put_events_entries() -> None:
    for (source, detail_type), example in EXAMPLES.items():
        stem = names.file_stem(detail_type)
        [entry] = json.loads((ROOT / "events" / f"{stem}.json").read_text())
        assert (entry["Source"], entry["DetailType"]) == (source, detail_type)
        assert json.loads(entry["Detail"]) == {k: v for k, v in example.items() if v is not None} | (
            {"version": "1.0"}
        )
