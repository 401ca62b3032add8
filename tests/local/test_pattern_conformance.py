"""The recorded AWS pattern cases, through localcloud's TestEventPattern API and through real rules."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.local.conftest import Local

pytestmark = pytest.mark.local

CASES_FILE = (
    Path(__file__).resolve().parents[3] / "shared" / "conformance" / "eventbridge-patterns" / "cases.jsonl"
)
CASES = [json.loads(line) for line in CASES_FILE.read_text().splitlines() if line.strip()]
# The only event fields a PutEvents entry controls; a case whose pattern reaches any other top-level
# field (set by EventBridge, like id or account, or absent from real events) is checked through the API.
PUTTABLE = {"source", "detail-type", "detail", "resources"}


def pattern_text(case: dict[str, Any]) -> str:
    return case["pattern_raw"] if "pattern_raw" in case else json.dumps(case["pattern"])


def event_text(case: dict[str, Any]) -> str:
    return case["event_raw"] if "event_raw" in case else json.dumps(case["event"])


def test_all_156_cases_are_here() -> None:
    assert len(CASES) == 156


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_test_event_pattern_api_answers_as_aws(local: Local, case: dict[str, Any]) -> None:
    events = local.client("events")
    if case["expected"] == "invalid":
        with pytest.raises(ClientError) as error:
            events.test_event_pattern(EventPattern=pattern_text(case), Event=event_text(case))
        assert error.value.response["Error"]["Code"] == case["error_code"]
        assert error.value.response["Error"]["Message"] == case["error_message"]
    else:
        result = events.test_event_pattern(EventPattern=pattern_text(case), Event=event_text(case))
        assert result["Result"] is (case["expected"] == "match")


def top_level_fields(pattern: dict[str, Any]) -> set[str]:
    fields = set()
    for key, value in pattern.items():
        if key == "$or":
            fields |= set().union(*(top_level_fields(branch) for branch in value))
        else:
            fields.add(key)
    return fields


def routable(case: dict[str, Any]) -> bool:
    """The case can be replayed through PutEvents: its pattern only reads fields an entry controls."""
    if "pattern" not in case or "event" not in case:
        return False
    event = case["event"]
    return (
        top_level_fields(case["pattern"]) <= PUTTABLE
        and isinstance(event.get("detail", {}), dict)
        and all(isinstance(event.get(key, "x"), str) for key in ("source", "detail-type"))
    )


ROUTABLE = [c for c in CASES if c["expected"] == "invalid" or routable(c)]


@pytest.fixture(scope="module")
def conformance_bus(local: Local) -> tuple[str, str, str]:
    events, sqs = local.client("events"), local.client("sqs")
    bus = f"conformance-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    url = sqs.create_queue(QueueName=bus)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return bus, url, arn


@pytest.mark.parametrize("case", ROUTABLE, ids=[c["name"] for c in ROUTABLE])
def test_rules_route_as_aws(
    local: Local, conformance_bus: tuple[str, str, str], case: dict[str, Any]
) -> None:
    bus, url, arn = conformance_bus
    events, sqs = local.client("events"), local.client("sqs")
    rule = f"case-{uuid.uuid4().hex[:10]}"
    if case["expected"] == "invalid":
        # An invalid pattern is refused at PutRule with AWS's error.
        with pytest.raises(ClientError) as error:
            events.put_rule(Name=rule, EventBusName=bus, EventPattern=pattern_text(case))
        assert error.value.response["Error"]["Code"] == case["error_code"]
        return
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=pattern_text(case))
    events.put_targets(
        Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn, "Input": json.dumps(rule)}]
    )
    event = case["event"]
    entry = {
        "Source": event.get("source", "test"),
        "DetailType": event.get("detail-type", "test"),
        "Detail": json.dumps(event.get("detail", {})),
        "Resources": event.get("resources", []),
        "EventBusName": bus,
    }
    response = events.put_events(Entries=[entry])
    assert response["FailedEntryCount"] == 0, response
    local.settle()
    received = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        received += [json.loads(m["Body"]) for m in batch]
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    events.remove_targets(Rule=rule, EventBusName=bus, Ids=["q"])
    events.delete_rule(Name=rule, EventBusName=bus)
    assert (rule in received) is (case["expected"] == "match")
