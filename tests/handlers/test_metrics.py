"""The metrics handler: one EMF document per metric, dimensioned per event, nothing carried over."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from tests.handlers.conftest import FakeContext, load_handler
from tests.handlers.logs import correlation_ids, log_lines


@pytest.fixture
def handler(aws: None) -> ModuleType:
    # The namespace comes from POWERTOOLS_METRICS_NAMESPACE ("EventDriven" in the aws fixture, like the CDK)
    return load_handler("metrics.handler")


def event(source: str, detail_type: str, event_id: str = "evt-1") -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-11-24T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }


def emf_documents(output: str) -> list[dict[str, Any]]:
    return [doc for doc in map(json.loads, filter(None, output.splitlines())) if "_aws" in doc]


def metric(doc: dict[str, Any]) -> tuple[str, list[str]]:
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    [definition] = directive["Metrics"]
    [dimensions] = directive["Dimensions"]
    assert directive["Namespace"] == "EventDriven"
    assert definition["Unit"] == "Count" and doc[definition["Name"]] == [1.0]
    return definition["Name"], sorted(dimensions)


def test_each_event_is_counted_by_source_and_detail_type(
    handler: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # When a TrialAssigned event arrives
    result = handler.lambda_handler(
        event("OnlineTrial", "TrialAssigned"), FakeContext(function_name="metrics")
    )
    # Then `Events` is counted with its source and detailType, and TrialsAssigned on its own
    events, business = emf_documents(capsys.readouterr().out)
    assert metric(events) == ("Events", ["detailType", "service", "source"])
    assert (events["source"], events["detailType"]) == ("OnlineTrial", "TrialAssigned")
    assert metric(business) == ("TrialsAssigned", ["service"])
    assert "source" not in business
    assert result == {"metrics": ["Events", "TrialsAssigned"]}


def test_dimensions_never_leak_from_one_event_to_the_next(
    handler: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given one event has been counted
    handler.lambda_handler(event("OnlineTrial", "TrialExpired", "a"), FakeContext())
    capsys.readouterr()
    # When an event of another source and type follows in the same execution environment
    handler.lambda_handler(event("aws.s3", "Object Created", "b"), FakeContext(aws_request_id="req-2"))
    # Then its one document carries only its own dimensions
    [doc] = emf_documents(capsys.readouterr().out)
    assert metric(doc) == ("Events", ["detailType", "service", "source"])
    assert (doc["source"], doc["detailType"]) == ("aws.s3", "Object Created")


@pytest.mark.parametrize(
    ("source", "detail_type", "business"),
    [
        ("myapp.orders", "OrderCompleted", "OrdersCompleted"),
        ("myapp.userservice", "user_signup", "UsersSignedUp"),
        ("OnlineTrial", "TrialExpired", "TrialsExpired"),
    ],
)
def test_business_counts_of_the_apps_flows(
    handler: ModuleType, capsys: pytest.CaptureFixture[str], source: str, detail_type: str, business: str
) -> None:
    handler.lambda_handler(event(source, detail_type), FakeContext())
    names = [metric(doc)[0] for doc in emf_documents(capsys.readouterr().out)]
    assert names == ["Events", business]


SENTINEL = "leak.sentinel+42@example.com"


@pytest.mark.parametrize(
    ("source", "detail_type"),
    [("myapp.userservice", SENTINEL), (SENTINEL, "user_signup"), ("OnlineTrial", f"Trial {SENTINEL}")],
)
def test_an_event_with_personal_data_in_its_type_is_counted_without_it(
    handler: ModuleType, capsys: pytest.CaptureFixture[str], source: str, detail_type: str
) -> None:
    # Given an event whose source or DetailType (which anyone in the account may set) holds an address
    given = event(source, detail_type) | {"detail": {"email": SENTINEL, "name": SENTINEL}}
    # When it is counted
    handler.lambda_handler(given, FakeContext())
    # Then it is counted as `other`, and nothing printed (EMF documents, logs) repeats the address
    output = capsys.readouterr()
    [doc] = emf_documents(output.out)
    assert "other" in (doc["source"], doc["detailType"])
    assert SENTINEL not in output.out + output.err


def test_a_known_app_event_keeps_its_own_dimensions(
    handler: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    handler.lambda_handler(event("myapp.payments", "PaymentCharged"), FakeContext())
    [doc] = emf_documents(capsys.readouterr().out)
    assert (doc["source"], doc["detailType"]) == ("myapp.payments", "PaymentCharged")


@pytest.mark.parametrize("variable", ["POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME"])
def test_a_misconfigured_function_fails_its_init_naming_the_variable(
    aws: None, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.delenv(variable)
    with pytest.raises(RuntimeError, match=variable):
        load_handler("metrics.handler")


@pytest.mark.parametrize(
    ("detail", "expected"),
    [({"orderId": "o-1"}, "o-1"), ({"trialId": "t-1"}, "t-1"), ({"email": "a@example.com"}, "evt-9")],
    ids=["order", "trial", "signup"],
)
def test_its_log_lines_carry_the_flows_id_the_order_the_trial_else_the_event(
    handler: ModuleType, detail: dict[str, str], expected: str
) -> None:
    handler.logger.setLevel("DEBUG")  # it logs each count at DEBUG only
    with log_lines(handler.logger) as lines:
        handler.lambda_handler(
            {**event("myapp.orders", "Anything", "evt-9"), "detail": detail}, FakeContext()
        )
    assert lines and set(correlation_ids(lines)) == {expected}
