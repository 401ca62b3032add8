"""The event contracts: what they accept, what they reject, and that the sample entries obey them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.contracts.registry import contract_for
from shared.contracts.user_signup import UserSignup
from stacks.constructs import user_signup as signup_construct

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


def test_the_signup_rule_pattern_matches_the_contract() -> None:
    # The construct cannot import pydantic at synth, so it repeats the strings: keep them in step.
    assert (signup_construct.SIGNUP_SOURCE, signup_construct.SIGNUP_DETAIL_TYPE) == (
        UserSignup.SOURCE,
        UserSignup.DETAIL_TYPE,
    )
