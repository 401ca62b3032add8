"""The order-status handler against moto: each status change is published to the order's IoT topic."""

from __future__ import annotations

import json
import re
from types import ModuleType
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iotdata.models import iotdata_backends

from tests.handlers.conftest import REGION, load_handler
from tests.handlers.logs import correlation_ids, log_lines
from tests.handlers.orders_conftest_helpers import ORDER_ID, context, order_event

# moto serves IoT data-plane calls on the generic endpoint only (not on an account's *-ats one).
MOTO_DATA_ENDPOINT = f"https://data-ats.iot.{REGION}.amazonaws.com"
CHANGE = {
    "version": "1.0",
    "orderId": ORDER_ID,
    "customerId": "customer-0001",
    "status": "RESERVED",
    "changedAt": "2026-11-22T10:00:01.250Z",
}


def published() -> list[tuple[str, Any]]:
    backend = iotdata_backends[DEFAULT_ACCOUNT_ID][REGION]
    return [(topic, json.loads(payload)) for topic, payload in backend.published_payloads]


@pytest.fixture
def handler(aws: None, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("IOT_DATA_ENDPOINT", MOTO_DATA_ENDPOINT)
    return load_handler("order_status.handler")


def test_a_status_change_is_published_to_the_orders_topic(handler: ModuleType) -> None:
    # When OrderStatusChanged arrives
    result = handler.lambda_handler(order_event("OrderStatusChanged", CHANGE), context("orderstatus"))
    # Then its detail is published to orders/{orderId}/status
    topic = f"orders/{ORDER_ID}/status"
    assert result == {"topic": topic}
    assert published() == [(topic, {**CHANGE, "reason": None})]


def test_a_status_change_with_a_reason_carries_it(handler: ModuleType) -> None:
    change = {**CHANGE, "status": "REJECTED", "reason": "out of stock"}
    handler.lambda_handler(order_event("OrderStatusChanged", change), context("orderstatus"))
    [(_, payload)] = published()
    assert (payload["status"], payload["reason"]) == ("REJECTED", "out of stock")


@pytest.mark.parametrize(
    "detail",
    [{**CHANGE, "status": "LOST"}, {**CHANGE, "orderId": "+/#"}, {"orderId": ORDER_ID}, "not an object"],
)
def test_an_invalid_status_change_fails_clearly_and_publishes_nothing(
    handler: ModuleType, detail: Any
) -> None:
    with pytest.raises(handler.InvalidStatusEvent, match="bad-1"):
        handler.lambda_handler(
            order_event("OrderStatusChanged", detail, event_id="bad-1"), context("orderstatus")
        )
    assert published() == []


def test_without_a_configured_endpoint_the_accounts_ats_endpoint_is_looked_up_once(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no IOT_DATA_ENDPOINT and no AWS_ENDPOINT_URL (as on AWS)
    monkeypatch.delenv("IOT_DATA_ENDPOINT", raising=False)
    handler = load_handler("order_status.handler")
    lookups: list[str] = []
    original = handler.describe_ats_endpoint

    def counting() -> str:
        lookups.append("describe")
        return str(original())

    monkeypatch.setattr(handler, "describe_ats_endpoint", counting)
    # When the publisher is needed twice
    first, second = handler.publisher(), handler.publisher()
    # Then the endpoint was looked up once, and is the account's ATS data endpoint
    assert first is second and lookups == ["describe"]
    ats_endpoint = rf"https://[a-z0-9]+-ats\.iot\.{REGION}\.amazonaws\.com"
    assert re.fullmatch(ats_endpoint, first._client.meta.endpoint_url)


def test_with_a_local_endpoint_url_boto3_points_there(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOT_DATA_ENDPOINT", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    handler = load_handler("order_status.handler")
    assert handler.publisher()._client.meta.endpoint_url == "http://127.0.0.1:4566"


def test_every_log_line_carries_the_order_id_as_correlation_id(handler: ModuleType) -> None:
    with log_lines(handler.logger) as lines:
        handler.lambda_handler(order_event("OrderStatusChanged", CHANGE, event_id="evt-9"), context("s"))
    assert lines and set(correlation_ids(lines)) == {ORDER_ID}
