"""EventBridge event patterns: the AWS-recorded conformance suite, then behaviours it does not pin down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.eventbridge.patterns import InvalidEventPattern, matches, parse_pattern, validate_pattern

REPO_ROOT = Path(__file__).resolve().parents[3]
CASES_FILE = REPO_ROOT / ".." / "shared" / "conformance" / "eventbridge-patterns" / "cases.jsonl"


def _load_cases() -> list[dict[str, Any]]:
    lines = CASES_FILE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


CASES = _load_cases()

ENVELOPE: dict[str, Any] = {
    "version": "0",
    "id": "0d0e6f4a-1c8b-4b58-9a1e-3c2f1f4f0e11",
    "detail-type": "UserSignedUp",
    "source": "app.signup",
    "account": "123456789012",
    "time": "2024-05-01T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:s3:::bucket-a", "arn:aws:s3:::bucket-b"],
}


def _event(detail: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    return {**ENVELOPE, **envelope, "detail": detail}


def _reason(pattern: dict[str, Any]) -> str:
    with pytest.raises(InvalidEventPattern) as error:
        validate_pattern(pattern)
    return error.value.reason


def test_the_conformance_suite_is_complete() -> None:
    # Given the recorded suite
    # When it is loaded
    # Then it holds all 156 cases, each name once
    assert len(CASES) == 156
    assert len({case["name"] for case in CASES}) == 156


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_conformance_case(case: dict[str, Any]) -> None:
    # Given a pattern and an event recorded against AWS (raw text where the JSON itself matters)
    if "pattern_raw" in case:
        pattern_text = case["pattern_raw"]
        event = json.loads(case["event_raw"])
    else:
        pattern_text = json.dumps(case["pattern"])
        event = case["event"]

    if case["expected"] == "invalid":
        # When the pattern is parsed (and so validated)
        with pytest.raises(InvalidEventPattern) as error:
            parse_pattern(pattern_text)
        # Then it is refused with AWS's exact message, as is the same pattern given as a dict
        assert error.value.message == case["error_message"]
        with pytest.raises(InvalidEventPattern) as from_dict:
            validate_pattern(case["pattern"])
        assert from_dict.value.message == case["error_message"]
        return

    # When the pattern is parsed and matched against the event
    pattern = parse_pattern(pattern_text)
    result = matches(pattern, event)
    # Then the outcome is AWS's
    assert result is (case["expected"] == "match")
    if "pattern" in case:
        validate_pattern(case["pattern"])
        assert matches(case["pattern"], event) is result


def test_nested_detail_fields_all_have_to_match() -> None:
    # Given a pattern on two nested detail fields
    pattern = {"source": ["app.signup"], "detail": {"user": {"plan": ["pro"], "country": ["DE", "FR"]}}}
    # When events differing in one field are matched
    both = _event({"user": {"plan": "pro", "country": "FR", "name": "Ada"}})
    one = _event({"user": {"plan": "free", "country": "FR"}})
    # Then only the event matching every field matches
    assert matches(pattern, both)
    assert not matches(pattern, one)


def test_a_field_matches_when_any_element_of_an_event_array_matches() -> None:
    # Given events whose field is an array of values and of objects
    scalars = _event({"tags": ["red", "green"]})
    objects = _event({"items": [{"sku": "A-1", "qty": 1}, {"sku": "B-2", "qty": 9}]})
    # When patterns name one element's value
    # Then the arrays are flattened: any element can satisfy the field
    assert matches({"detail": {"tags": ["green"]}}, scalars)
    assert matches({"detail": {"items": {"sku": [{"prefix": "B-"}]}}}, objects)
    assert matches({"detail": {"items": {"qty": [{"numeric": [">", 5]}]}}}, objects)
    assert not matches({"detail": {"items": {"sku": ["C-3"]}}}, objects)
    assert matches({"resources": ["arn:aws:s3:::bucket-b"]}, _event({}))


def test_numeric_ranges_respect_open_and_closed_bounds() -> None:
    # Given a half-open range and an inclusive upper bound
    pattern = {"detail": {"amount": [{"numeric": [">=", 10, "<", 20]}], "fee": [{"numeric": ["<=", 1.5]}]}}
    # When values on and around the bounds are matched
    # Then >= includes its bound, < excludes it, and numbers compare by value, not text
    assert matches(pattern, _event({"amount": 10, "fee": 1.5}))
    assert matches(pattern, _event({"amount": 19.999, "fee": 1.50}))
    assert not matches(pattern, _event({"amount": 20, "fee": 0}))
    assert not matches(pattern, _event({"amount": 9.99, "fee": 0}))
    assert not matches(pattern, _event({"amount": "15", "fee": 0}))
    assert matches({"detail": {"amount": [{"numeric": ["=", 3.015e2]}]}}, _event({"amount": 301.5}))


def test_exact_values_compare_by_json_type() -> None:
    # Given a number, a numeric string and a boolean in the event
    event = _event({"n": 5, "s": "5", "flag": True, "account": 123456789012345678901})
    # When they are matched against values of the same and of another JSON type
    # Then 5 equals 5.0, but never "5", and true is not 1
    assert matches({"detail": {"n": [5.0]}}, event)
    assert not matches({"detail": {"s": [5]}}, event)
    assert not matches({"detail": {"n": ["5"]}}, event)
    assert matches({"detail": {"flag": [True]}}, event)
    assert not matches({"detail": {"flag": [1]}}, event)
    assert matches({"detail": {"account": [123456789012345678901]}}, event)


def test_or_combines_with_the_fields_around_it() -> None:
    # Given a source condition and an $or between two detail alternatives
    pattern = {
        "source": ["app.signup"],
        "detail": {"$or": [{"plan": ["pro"]}, {"seats": [{"numeric": [">", 10]}]}]},
    }
    # When events satisfy one, the other, or neither alternative
    # Then one alternative is enough, but the surrounding field still has to match
    assert matches(pattern, _event({"plan": "pro"}))
    assert matches(pattern, _event({"plan": "free", "seats": 11}))
    assert not matches(pattern, _event({"plan": "free", "seats": 2}))
    assert not matches(pattern, _event({"plan": "pro"}, source="other"))


def test_exists_false_matches_a_missing_nested_field_and_a_missing_parent() -> None:
    # Given a pattern requiring a nested field to be absent
    pattern = {"detail": {"error": {"code": [{"exists": False}]}}}
    # When the field is there, only its parent is there, or neither is
    # Then only its presence as a value fails the pattern
    assert not matches(pattern, _event({"error": {"code": "E1"}}))
    assert matches(pattern, _event({"error": {"message": "boom"}}))
    assert matches(pattern, _event({}))
    # And exists true needs a value: an object under the name is not one
    assert not matches({"detail": {"error": [{"exists": True}]}}, _event({"error": {"code": "E1"}}))


def test_ip_addresses_match_by_address_not_by_text() -> None:
    # Given an IPv6 literal and an IPv4 CIDR in patterns
    # When events write the same addresses differently
    # Then they match as addresses
    assert matches({"detail": {"ip": ["::1"]}}, _event({"ip": "0:0:0:0:0:0:0:1"}))
    assert matches({"detail": {"ip": [{"cidr": "192.168.0.0/16"}]}}, _event({"ip": "192.168.254.1"}))
    assert not matches({"detail": {"ip": [{"cidr": "192.168.0.0/16"}]}}, _event({"ip": "192.169.0.1"}))
    assert matches({"detail": {"ip": [{"cidr": "192.168.0.0/16"}]}}, _event({"ip": "::ffff:c0a8:1"}))


def test_wildcards_escape_stars_and_ignore_case_folds_unicode() -> None:
    # Given a wildcard with an escaped star and a case-insensitive match on non-ASCII text
    star = {"detail": {"name": [{"wildcard": "report\\*-*.csv"}]}}
    german = {"detail": {"city": [{"equals-ignore-case": "MÜNCHEN"}]}}
    # When events are matched
    # Then the escaped star is literal, the bare one spans any text, and case is folded per character
    assert matches(star, _event({"name": "report*-2024.csv"}))
    assert not matches(star, _event({"name": "report1-2024.csv"}))
    assert matches(german, _event({"city": "München"}))
    assert matches({"detail": {"name": [{"wildcard": "*"}]}}, _event({"name": ""}))


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ({}, "Empty objects are not allowed"),
        ({"detail": {}}, "Empty objects are not allowed"),
        ({"a": [{}]}, "Match expression name not found"),
        ({"a": [["nested"]]}, "Match value must be String, number, true, false, or null"),
        ({"$or": [{"a": ["x"]}]}, "There must have at least 2 Objects in $or relationship."),
        ({"$or": {"a": ["x"]}}, "It must be an Array followed with $or."),
        ({"$or": [{"a": ["x"]}, "b"]}, "Only JSON object is allowed in array of $or relationship."),
        (
            {"$or": [{"a": ["x"]}, {"prefix": ["y"]}]},
            "prefix is Ruler reserved fieldName which cannot be used inside $or.",
        ),
        ({"a": [{"numeric": [">", 5, "<", 5]}]}, "Bottom must be less than top"),
        ({"a": [{"numeric": ["<", 5, ">", 1]}]}, "Too many elements in numeric expression"),
        ({"a": [{"numeric": []}]}, "Invalid member in numeric match: ]"),
        ({"a": [{"numeric": [5, "<"]}]}, "Invalid member in numeric match: 5"),
        ({"a": [{"numeric": ["!=", 5]}]}, "Unrecognized numeric range operator: !="),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, "Only one key allowed in match expression"),
        ({"a": [{"anything-but": "x", "prefix": "y"}]}, "Too many elements in numeric expression"),
        (
            {"a": [{"anything-but": ["x", 1]}]},
            "Inside anything but list, either all values are number or string, mixed type is not supported",
        ),
        ({"a": [{"anything-but": {"contains": "x"}}]}, "Unsupported anything-but pattern: contains"),
        ({"a": [{"exists": "yes"}]}, "exists match pattern must be either true or false."),
        ({"a": [{"wildcard": "a\\b"}]}, "Invalid escape character at pos 2"),
        ({"a": [{"cidr": "10.0.0.0/32"}]}, "IPv4 mask bits must be < 32"),
        ({"a": [{"cidr": "10.0.0.0/-1"}]}, "Malformed CIDR, mask bits must not be negative"),
        ({"a": [{"cidr": "10.0.0.999/8"}]}, "Invalid IP address: 10.0.0.999"),
        (
            {"a": [{"prefix": {"equals-ignore-case": "x", "other": 1}}]},
            "Only one key allowed in match expression",
        ),
        ({"a": [{"suffix": {"exactly": "x"}}]}, "Unsupported suffix pattern: exactly"),
        (
            {"a": [{"wildcard": "*a*a*a*a*a*a*"}]},
            "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences"
            " after a wildcard character",
        ),
    ],
)
def test_invalid_patterns_are_refused_with_aws_reasons(pattern: dict[str, Any], reason: str) -> None:
    # Given a pattern AWS refuses
    # When it is validated
    # Then the reason is AWS's wording
    assert _reason(pattern) == reason


def test_wildcard_complexity_counts_repeated_sequences_not_just_stars() -> None:
    # Given wildcard lists that AWS accepts (four extensions) and refuses (the same under a folder wildcard)
    accepted = [{"wildcard": f"*.{ext}"} for ext in ("bif", "tiff", "tif", "svs")]
    refused = [{"wildcard": f"*/datasync/*.{ext}"} for ext in ("bif", "tiff", "tif", "svs")]
    # When they are validated
    validate_pattern({"detail": {"key": accepted}})
    # Then only the one whose prefixes can pile up past AWS's limit is refused
    assert _reason({"detail": {"key": refused}}).startswith("Rule is too complex")
    validate_pattern({"detail": {"key": refused[:2]}})


def test_parse_pattern_reports_what_is_not_a_json_object() -> None:
    # Given texts that are no pattern object
    # When they are parsed
    # Then AWS's reason is given, and broken JSON is refused too
    for text in ("[]", '"source"', "42", ""):
        with pytest.raises(InvalidEventPattern) as error:
            parse_pattern(text)
        assert error.value.reason == "Filter is not an object"
    with pytest.raises(InvalidEventPattern) as broken:
        parse_pattern('{"source": ["a"],}')
    assert broken.value.message.startswith("Event pattern is not valid. Reason: ")
    # And a number a double cannot hold is quoted as written
    with pytest.raises(InvalidEventPattern) as huge:
        parse_pattern('{"a": [{"numeric": ["=", 1e400]}]}')
    assert huge.value.reason == "Cannot compare number : 1e400"


def test_duplicate_keys_override_but_are_still_validated() -> None:
    # Given patterns repeating a key, once with a valid then an invalid list, once merging two objects
    # When they are parsed
    # Then the later list wins, an invalid earlier one is still refused, and objects merge by path
    assert parse_pattern('{"a": ["x"], "a": ["y"]}') == {"a": ["y"]}
    with pytest.raises(InvalidEventPattern) as error:
        parse_pattern('{"a": [], "a": ["y"]}')
    assert error.value.reason == "Empty arrays are not allowed"
    merged = parse_pattern('{"detail": {"a": ["1"]}, "detail": {"b": ["2"]}}')
    assert merged == {"detail": {"a": ["1"], "b": ["2"]}}
    assert matches(merged, _event({"a": "1", "b": "2"}))
    assert not matches(merged, _event({"a": "1"}))


def test_dotted_keys_and_nested_objects_name_the_same_field() -> None:
    # Given the same field written as a dotted key and as nesting, in pattern and event
    # When each form is matched against the other
    # Then they are interchangeable, as in AWS
    assert matches({"detail.user.plan": ["pro"]}, _event({"user": {"plan": "pro"}}))
    assert matches({"detail": {"user": {"plan": ["pro"]}}}, _event({"user.plan": "pro"}))


def test_matching_an_invalid_pattern_raises() -> None:
    # Given an invalid pattern
    # When it is matched
    # Then the validation error surfaces instead of a silent non-match
    with pytest.raises(InvalidEventPattern):
        matches({"source": "app.signup"}, _event({}))
