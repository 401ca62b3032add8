"""Rules route with the same compiled pattern TestEventPattern answers with, repeated keys included."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from localcloud.eventbridge.patterns import compile_pattern, matches, parse_pattern
from tests.unit.localcloud.running_cloud import Cloud, running_cloud

# "detail" written twice: AWS merges the two objects, so both fields must match.
REPEATED = '{"source": ["shop"], "detail": {"kind": ["order"]}, "detail": {"total": [5]}}'


def event(**detail: object) -> dict[str, object]:
    return {
        "version": "0",
        "id": "1",
        "detail-type": "t",
        "source": "shop",
        "account": "123456789012",
        "time": "2026-12-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def test_a_compiled_pattern_text_matches_as_the_parsed_pattern_does() -> None:
    # Given a pattern with a repeated key / When it is compiled from its text
    compiled = compile_pattern(REPEATED)

    # Then it agrees with parse_pattern + matches, and needs both merged fields
    for detail in ({"kind": "order", "total": 5}, {"total": 5}, {"kind": "order"}):
        assert compiled.matches(event(**detail)) == matches(parse_pattern(REPEATED), event(**detail))
    assert [compiled.matches(event(kind="order", total=5)), compiled.matches(event(total=5))] == [True, False]
    assert compile_pattern(REPEATED) is compiled  # compiled once per text


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(tmp_path_factory.mktemp("state")) as running:
        yield running


def test_a_rule_with_a_repeated_key_routes_as_test_event_pattern_answers(cloud: Cloud) -> None:
    # Given a rule with the repeated-key pattern delivering to a queue
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName="repeated")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="repeated", EventPattern=REPEATED)
    events.put_targets(Rule="repeated", Targets=[{"Id": "queue", "Arn": arn}])
    details = [{"kind": "order", "total": 5}, {"total": 5}, {"kind": "order", "total": 6}]

    # When an event of each detail is put, and TestEventPattern is asked about each
    for detail in details:
        events.put_events(Entries=[{"Source": "shop", "DetailType": "t", "Detail": json.dumps(detail)}])
    answers = [
        events.test_event_pattern(EventPattern=REPEATED, Event=json.dumps(event(**detail)))["Result"]
        for detail in details
    ]
    cloud.settle()

    # Then the rule delivered exactly the events TestEventPattern says match
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    delivered = [json.loads(m["Body"])["detail"] for m in messages]
    assert answers == [True, False, False]
    assert delivered == [d for d, matched in zip(details, answers, strict=True) if matched]
