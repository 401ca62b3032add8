"""Which id is a flow's correlation id: one rule for every handler."""

from __future__ import annotations

from typing import Any

import jmespath
import pytest

from shared.correlation import (
    EVENTBRIDGE,
    WORKFLOW_PAYLOAD,
    correlated,
    event_flow_id,
    json_flow_id,
    stream_record_flow_id,
)


class Recorder:
    def __init__(self) -> None:
        self.value: str | None = "before"

    def get_correlation_id(self) -> str | None:
        return self.value

    def set_correlation_id(self, value: str | None) -> None:
        self.value = value


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"id": "e-1", "detail": {"orderId": "o-1", "trialId": "t-1"}}, "o-1"),
        ({"id": "e-1", "detail": {"trialId": "t-1"}}, "t-1"),
        ({"id": "e-1", "detail": {"email": "a@example.com"}}, "e-1"),
        ({"id": "e-1", "detail": "not an object"}, "e-1"),
        ({"id": "e-1", "detail": {"orderId": 42}}, "e-1"),
        ("not an event", None),
    ],
)
def test_an_events_flow_id_is_its_order_else_its_trial_else_its_own_id(event: Any, expected: str) -> None:
    assert event_flow_id(event) == expected


@pytest.mark.parametrize(
    "event",
    [
        {"id": "e-1", "detail": {"orderId": "o-1"}},
        {"id": "e-1", "detail": {"trialId": "t-1"}},
        {"id": "e-1", "detail": {}},
        {"id": "e-1"},
    ],
)
def test_the_jmespath_powertools_reads_agrees_with_the_function(event: dict[str, Any]) -> None:
    assert jmespath.search(EVENTBRIDGE, event) == event_flow_id(event)


def test_a_workflow_payload_names_its_order_or_trial() -> None:
    assert jmespath.search(WORKFLOW_PAYLOAD, {"action": "reserve", "orderId": "o-1"}) == "o-1"
    assert jmespath.search(WORKFLOW_PAYLOAD, {"action": "claim", "trialId": "t-1"}) == "t-1"


def test_a_message_body_names_its_order_and_anything_else_names_nothing() -> None:
    assert json_flow_id('{"orderId": "o-1", "taskToken": "x"}') == "o-1"
    assert json_flow_id("not json") is None
    assert json_flow_id("[1, 2]") is None
    assert json_flow_id(None) is None


def test_a_stream_record_names_the_id_in_its_new_else_its_old_image() -> None:
    assert stream_record_flow_id({"dynamodb": {"NewImage": {"orderId": {"S": "o-1"}}}}) == "o-1"
    assert stream_record_flow_id({"dynamodb": {"OldImage": {"trialId": {"S": "t-1"}}}}) == "t-1"
    assert stream_record_flow_id({"dynamodb": {"NewImage": {"orderId": "not typed"}}}) is None
    assert stream_record_flow_id({"no": "change"}) is None


def test_correlated_sets_the_id_inside_and_puts_back_the_one_before_even_on_error() -> None:
    logger = Recorder()
    with pytest.raises(RuntimeError), correlated(logger, "o-1"):
        assert logger.value == "o-1"
        raise RuntimeError
    assert logger.value == "before"
