"""A new consumer is one rule and one function: adding it changes nothing that exists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events

from app import build_app
from stacks.constructs.event_consumer import EventConsumer
from stacks.constructs.lambda_function import FunctionDefaults
from stacks.eventing_stack import EventingStack

ROOT = Path(__file__).resolve().parents[2]


def templates_of(outdir: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {
        name: json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


CONTEXT = json.loads((ROOT / "cdk.json").read_text())["context"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The app as it is, synthesized the same way as the extended one (in-process, same context)."""
    outdir = tmp_path_factory.mktemp("base")
    build_app(cdk.App(outdir=str(outdir), context=CONTEXT)).synth()
    return templates_of(outdir)


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    # Given the app as it is, plus a team's new stack with one consumer of TrialAssigned
    outdir = tmp_path_factory.mktemp("extended")
    context = CONTEXT
    app = build_app(cdk.App(outdir=str(outdir), context=context))
    eventing = app.node.find_child("EventDriven-Eventing")
    assert isinstance(eventing, EventingStack)
    stack = cdk.Stack(app, "EventDriven-TrialNotifications")
    EventConsumer(
        stack,
        "AssignedTrialNotifier",
        bus=eventing.eventing.bus,
        pattern=events.EventPattern(source=["OnlineTrial"], detail_type=["TrialAssigned"]),
        handler="trial_notifier.handler.lambda_handler",
        description="Tells sales that a trial was assigned",
        service_name="trial-notifier",
        alarm_topic=eventing.eventing.alarm_topic,
        defaults=FunctionDefaults(
            app_name="EventDriven",
            powertools_layer_arn=context["powertoolsLayerArn"],
            log_retention_days=30,
        ),
    )
    # When it is synthesized (with the same cdk-nag gates: a finding would fail here)
    app.synth()
    return templates_of(outdir)


def test_the_new_consumer_is_one_rule_one_function_and_their_failure_paths(
    extended: dict[str, dict[str, Any]],
) -> None:
    types = sorted(r["Type"] for r in extended["EventDriven-TrialNotifications"]["Resources"].values())
    assert types.count("AWS::Events::Rule") == 1
    assert types.count("AWS::Lambda::Function") == 1
    assert "AWS::Lambda::EventInvokeConfig" in types


def test_no_existing_resource_changes(
    extended: dict[str, dict[str, Any]], base: dict[str, dict[str, Any]]
) -> None:
    # Then every existing stack keeps every resource exactly as it was, but the app's dashboard, which
    # gains the new consumer's widgets (tests/infra/test_dashboard.py)
    for stack, template in base.items():
        assert without_dashboard(extended[stack]) == without_dashboard(template), stack
        # (the eventing stack may export its bus to the new stack: an output added, none changed)
        for key, output in template.get("Outputs", {}).items():
            assert extended[stack]["Outputs"][key] == output, f"{stack}: output {key}"


def without_dashboard(template: dict[str, Any]) -> dict[str, Any]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] != "AWS::CloudWatch::Dashboard"}


def test_the_new_consumer_is_on_the_dashboard(
    extended: dict[str, dict[str, Any]], base: dict[str, dict[str, Any]]
) -> None:
    # Then the dashboard imports the new stack's function, rule and DLQs (and nothing else changed in it)
    def dashboard(templates: dict[str, dict[str, Any]]) -> str:
        (body,) = [
            json.dumps(r["Properties"]["DashboardBody"])
            for t in templates.values()
            for r in t["Resources"].values()
            if r["Type"] == "AWS::CloudWatch::Dashboard"
        ]
        return body

    def imported(body: str) -> set[str]:
        return set(re.findall(r'"(EventDriven-TrialNotifications:[^"]+)"', body))

    assert not imported(dashboard(base))
    # the function's name, the rule's, and the QueueName of its two DLQs (the rule's, the OnFailure)
    assert len(imported(dashboard(extended))) == 4
