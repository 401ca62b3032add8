"""The app's one dashboard shows every rule, DLQ, function and workflow, the API and the payment queue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events

from app import build_app
from stacks.constructs.event_route import EventRoute
from stacks.constructs.lambda_function import AppFunction, FunctionDefaults
from stacks.eventing_stack import EventingStack
from stacks.orders_stack import OrdersStack
from tests.infra.helpers import Template, resources

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]

Metric = tuple[str, str, dict[str, str], dict[str, Any]]  # namespace, name, dimensions, options


class Body:
    """The dashboard's body as JSON: each reference replaced by `<stack>/<logical id>[.attribute]`,
    imports followed to the stack that exports them, so widgets can be matched to resources."""

    def __init__(self, templates: dict[str, Template]) -> None:
        found = list(resources(templates, "AWS::CloudWatch::Dashboard"))
        assert len(found) == 1, f"one dashboard for the app, found {[(s, i) for s, i, _ in found]}"
        self.stack, self.logical_id, props = found[0]
        self.exports = {
            output["Export"]["Name"]: (stack, output["Value"])
            for stack, template in templates.items()
            for output in template.get("Outputs", {}).values()
            if "Export" in output
        }
        parts = props["DashboardBody"]["Fn::Join"]
        assert parts[0] == ""
        text = "".join(p if isinstance(p, str) else self.placeholder(self.stack, p) for p in parts[1])
        self.widgets: list[dict[str, Any]] = json.loads(text)["widgets"]

    def placeholder(self, stack: str, value: Any) -> str:
        if "Ref" in value:
            return "REGION" if value["Ref"] == "AWS::Region" else f"{stack}/{value['Ref']}"
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return f"{stack}/{logical_id}.{attribute}"
        if "Fn::ImportValue" in value:
            return self.placeholder(*self.exports[value["Fn::ImportValue"]])
        if "Fn::Select" in value:
            # A rule on a custom bus: its metrics name `rule` out of the Ref's `bus|rule`.
            index, split = value["Fn::Select"]
            delimiter, source = split["Fn::Split"]
            assert (index, delimiter) == (1, "|"), value
            return self.placeholder(stack, source)
        raise AssertionError(f"unexpected intrinsic in the dashboard body: {value}")

    def metric_widgets(self) -> list[tuple[str, list[Metric]]]:
        """(title, metrics) of every metric widget."""
        return [
            (w["properties"]["title"], [metric(m) for m in w["properties"]["metrics"]])
            for w in self.widgets
            if w["type"] == "metric"
        ]

    def shown(self, namespace: str, dimension: str, value: str) -> set[tuple[str, str]]:
        """(metric name, statistic) of every metric of one resource, on any one widget, by widget title."""
        found: set[tuple[str, str]] = set()
        for _, metrics in self.metric_widgets():
            for ns, name, dims, options in metrics:
                if ns == namespace and dims.get(dimension) == value:
                    found.add((name, options.get("stat", "Average")))
        return found

    def widgets_of(self, namespace: str, dimension: str, value: str) -> list[str]:
        return [
            title
            for title, metrics in self.metric_widgets()
            if any(ns == namespace and dims.get(dimension) == value for ns, _, dims, _ in metrics)
        ]


def metric(row: list[Any]) -> Metric:
    options = row[-1] if isinstance(row[-1], dict) else {}
    plain = row[:-1] if options else row
    namespace, name, *pairs = plain
    return namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)), options


@pytest.fixture(scope="module")
def body(templates: dict[str, Template]) -> Body:
    return Body(templates)


def every(templates: dict[str, Template], type_: str) -> list[tuple[str, str, dict[str, Any]]]:
    found = list(resources(templates, type_))
    assert found, f"the app has no {type_}"
    return found


def test_one_dashboard_named_in_the_stack_outputs(templates: dict[str, Template], body: Body) -> None:
    # Given the synthesized app, and its one dashboard (the Body fixture asserts there is one)
    outputs = templates[body.stack]["Outputs"]
    # Then its stack outputs its name and its console URL
    assert outputs["DashboardName"]["Value"] == {"Ref": body.logical_id}
    url = json.dumps(outputs["DashboardUrl"]["Value"])
    assert "console.aws.amazon.com/cloudwatch" in url and body.logical_id in url
    # And the layout fits CloudWatch's 24-column grid, each section under its own heading
    assert all(w["x"] + w["width"] <= 24 for w in body.widgets)
    headings = [w["properties"]["markdown"] for w in body.widgets if w["type"] == "text"]
    assert headings == [
        "## API",
        "## Payment queue",
        "## Workflows",
        "## Functions",
        "## Rules",
        "## Dead-letter queues",
    ]


def test_every_function_shows_errors_throttles_and_p99_duration(
    templates: dict[str, Template], body: Body
) -> None:
    for stack, function_id, _ in every(templates, "AWS::Lambda::Function"):
        shown = body.shown("AWS/Lambda", "FunctionName", f"{stack}/{function_id}")
        assert {("Errors", "Sum"), ("Throttles", "Sum"), ("Duration", "p99")} <= shown, function_id
        assert len(body.widgets_of("AWS/Lambda", "FunctionName", f"{stack}/{function_id}")) == 1


def test_every_rule_shows_matches_and_delivery_failures(templates: dict[str, Template], body: Body) -> None:
    wanted = {
        "MatchedEvents",
        "TriggeredRules",
        "FailedInvocations",
        "InvocationsSentToDlq",
        "InvocationsFailedToBeSentToDlq",
    }
    for stack, rule_id, props in every(templates, "AWS::Events::Rule"):
        titles = body.widgets_of("AWS/Events", "RuleName", f"{stack}/{rule_id}")
        assert len(titles) == 1, rule_id
        metrics = next(m for t, m in body.metric_widgets() if t == titles[0])
        assert {name for _, name, _, _ in metrics} == wanted, rule_id
        # Rules on a custom bus are measured by bus and rule; on the default bus by rule alone.
        on_custom_bus = props.get("EventBusName", "default") != "default"
        assert all(("EventBusName" in dims) is on_custom_bus for _, _, dims, _ in metrics), rule_id


def dead_letter_queues(templates: dict[str, Template]) -> list[tuple[str, str]]:
    """Every queue that is not itself a source queue: cdk-nag makes every other queue name a DLQ."""
    return [
        (stack, queue_id)
        for stack, queue_id, props in every(templates, "AWS::SQS::Queue")
        if "RedrivePolicy" not in props
    ]


def test_every_dead_letter_queue_shows_its_depth(templates: dict[str, Template], body: Body) -> None:
    dlqs = dead_letter_queues(templates)
    # Given every queue the templates use as a dead-letter target (rule DLQs, OnFailure, redrive)
    targets = set()
    for stack, template in templates.items():
        text = json.dumps(template["Resources"])
        targets |= {(stack, q) for s, q in dlqs if s == stack and f'["{q}", "Arn"]' in text}
    assert targets and targets <= set(dlqs)
    # Then each DLQ has one widget with its depth
    for stack, queue_id in dlqs:
        name = f"{stack}/{queue_id}.QueueName"
        assert body.shown("AWS/SQS", "QueueName", name) == {("ApproximateNumberOfMessagesVisible", "Maximum")}
        assert len(body.widgets_of("AWS/SQS", "QueueName", name)) == 1, queue_id


def test_every_state_machine_shows_started_succeeded_failed_and_timed_out(
    templates: dict[str, Template], body: Body
) -> None:
    for stack, machine_id, props in every(templates, "AWS::StepFunctions::StateMachine"):
        shown = {name for name, _ in body.shown("AWS/States", "StateMachineArn", f"{stack}/{machine_id}")}
        wanted = {"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"}
        assert wanted <= shown, (machine_id, props.get("StateMachineType", "STANDARD"))


def test_the_api_shows_4xx_5xx_and_latency(templates: dict[str, Template], body: Body) -> None:
    for _, api_id, props in every(templates, "AWS::ApiGateway::RestApi"):
        shown = body.shown("AWS/ApiGateway", "ApiName", props["Name"])
        wanted = {("4XXError", "Sum"), ("5XXError", "Sum"), ("Latency", "p50"), ("Latency", "p99")}
        assert wanted <= shown, api_id


def test_the_payment_queue_shows_its_oldest_message_against_its_alarm(
    templates: dict[str, Template], body: Body
) -> None:
    # Given every queue whose oldest message is alarmed (the payment queue)
    alarms = [
        props
        for _, _, props in every(templates, "AWS::CloudWatch::Alarm")
        if props.get("MetricName") == "ApproximateAgeOfOldestMessage"
    ]
    assert alarms
    for alarm in alarms:
        queue = alarm["Dimensions"][0]["Value"]  # GetAtt QueueName, in the same stack as the alarm
        stack = next(s for s, t in templates.items() if queue["Fn::GetAtt"][0] in t["Resources"])
        name = f"{stack}/{queue['Fn::GetAtt'][0]}.QueueName"
        # Then the dashboard charts its age (as the alarm measures it) and its depth on one widget
        (title,) = body.widgets_of("AWS/SQS", "QueueName", name)
        widget = next(w for w in body.widgets if w["properties"].get("title") == title)
        names = {m[1] for m in widget["properties"]["metrics"]}
        assert names == {"ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible"}
        # With the alarm's threshold drawn on it
        assert [a["value"] for a in widget["properties"]["annotations"]["horizontal"]] == [alarm["Threshold"]]


def test_no_widget_names_a_resource_by_hand(body: Body) -> None:
    # Every resource dimension comes from a reference (the API's from its name in the app's config)
    for title, metrics in body.metric_widgets():
        for namespace, _, dims, _ in metrics:
            for key in ("FunctionName", "QueueName", "StateMachineArn", "RuleName"):
                if key in dims:
                    assert "/" in dims[key] and dims[key].split("/")[0] in body_stacks(body), (title, key)
            assert namespace.startswith("AWS/"), title


def body_stacks(body: Body) -> set[str]:
    return {stack for stack, _ in body.exports.values()} | {body.stack}


# -- extensibility: a new function or route brings its own widgets ---------------------------------


def synthesized(outdir: Path, extend: bool) -> dict[str, Template]:
    app = build_app(cdk.App(outdir=str(outdir), context=CONTEXT))
    if extend:
        # Given one more function and one more route in an existing flow's construct, and no other code
        orders = app.node.find_child("EventDriven-Orders")
        eventing = app.node.find_child("EventDriven-Eventing")
        assert isinstance(orders, OrdersStack) and isinstance(eventing, EventingStack)
        function = AppFunction(
            orders.flow,
            "Loyalty",
            handler="loyalty.handler.lambda_handler",
            description="Awards loyalty points for completed orders",
            service_name="loyalty",
            defaults=FunctionDefaults(
                app_name="EventDriven",
                powertools_layer_arn=CONTEXT["powertoolsLayerArn"],
                log_retention_days=30,
            ),
        )
        EventRoute(
            orders.flow,
            "LoyaltyRoute",
            bus=eventing.eventing.bus,
            pattern=events.EventPattern(source=["myapp.orders"], detail_type=["OrderCompleted"]),
            description="Completed orders earn loyalty points",
            alarm_topic=eventing.eventing.alarm_topic,
        ).to_function(function.function)
    app.synth()
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {
        name: json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def test_a_new_function_and_route_bring_their_own_widgets(tmp_path: Path, body: Body) -> None:
    # When the app with the new function and route is synthesized
    extended = synthesized(tmp_path, extend=True)
    after = Body(extended)
    # Then the dashboard has three widgets more: the function, the rule, and the rule's DLQ
    assert len(after.metric_widgets()) == len(body.metric_widgets()) + 3
    new = {title for title, _ in after.metric_widgets()} - {title for title, _ in body.metric_widgets()}
    orders = extended["EventDriven-Orders"]["Resources"]
    (function_id,) = [k for k, r in orders.items() if r["Type"] == "AWS::Lambda::Function" and "Loyalty" in k]
    (rule_id,) = [k for k, r in orders.items() if r["Type"] == "AWS::Events::Rule" and "LoyaltyRoute" in k]
    (dlq_id,) = [k for k, r in orders.items() if r["Type"] == "AWS::SQS::Queue" and "LoyaltyRoute" in k]
    assert after.widgets_of("AWS/Lambda", "FunctionName", f"EventDriven-Orders/{function_id}")[0] in new
    assert after.widgets_of("AWS/Events", "RuleName", f"EventDriven-Orders/{rule_id}")[0] in new
    assert after.widgets_of("AWS/SQS", "QueueName", f"EventDriven-Orders/{dlq_id}.QueueName")[0] in new
