"""The dashboard as an operator opens it on localcloud: it charts the resources that were deployed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.local.conftest import Local

pytestmark = pytest.mark.local


def charted(body: dict[str, Any], namespace: str, dimension: str) -> set[tuple[str, ...]]:
    """Every value of one dimension (with the metric's other dimensions) the dashboard charts."""
    found: set[tuple[str, ...]] = set()
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            plain = row[:-1] if isinstance(row[-1], dict) else row
            if plain[0] == namespace:
                dims = dict(zip(plain[2::2], plain[3::2], strict=True))
                if dimension in dims:
                    found.add(
                        (dims[dimension], *(f"{k}={v}" for k, v in sorted(dims.items()) if k != dimension))
                    )
    return found


@pytest.fixture(scope="module")
def body(local: Local) -> dict[str, Any]:
    # Given localcloud serving the app; when an operator fetches the dashboard its output names
    name = local.output("DashboardName")
    dashboard = local.client("cloudwatch").get_dashboard(DashboardName=name)
    assert dashboard["DashboardName"] == name
    body: dict[str, Any] = json.loads(dashboard["DashboardBody"])
    return body


def test_every_deployed_function_and_workflow_is_charted(local: Local, body: dict[str, Any]) -> None:
    # Then it charts exactly the functions and state machines that exist, by their deployed names
    functions = {f["FunctionName"] for f in local.client("lambda").list_functions()["Functions"]}
    assert {name for name, *_ in charted(body, "AWS/Lambda", "FunctionName")} == functions
    machines = {
        m["stateMachineArn"] for m in local.client("stepfunctions").list_state_machines()["stateMachines"]
    }
    assert {arn for arn, *_ in charted(body, "AWS/States", "StateMachineArn")} == machines


def test_every_charted_queue_rule_and_api_exists(local: Local, body: dict[str, Any]) -> None:
    sqs = local.client("sqs")
    queues = {name for name, *_ in charted(body, "AWS/SQS", "QueueName")}
    assert queues
    for name in queues:
        assert sqs.get_queue_url(QueueName=name)["QueueUrl"]
    assert local.output("PaymentQueueUrl").rsplit("/", 1)[1] in queues
    events = local.client("events")
    rules = charted(body, "AWS/Events", "RuleName")
    assert rules
    for name, *others in rules:
        bus = others[0].removeprefix("EventBusName=") if others else "default"
        assert events.describe_rule(Name=name, EventBusName=bus)["Name"] == name
    # every rule of the app's buses is there (not the archive's: EventBridge manages that one)
    deployed = {
        (rule["Name"], bus)
        for bus in ("default", local.output("EventBusName"))
        for rule in events.list_rules(EventBusName=bus)["Rules"]
        if "ManagedBy" not in rule
    }
    assert {(n, o[0].removeprefix("EventBusName=") if o else "default") for n, *o in rules} == deployed
    apis = {api["name"] for api in local.client("apigateway").get_rest_apis()["items"]}
    assert {name for name, *_ in charted(body, "AWS/ApiGateway", "ApiName")} <= apis
    # And every widget is drawn in the region the app runs in
    assert {w["properties"]["region"] for w in body["widgets"] if w["type"] == "metric"} == {"us-east-1"}
