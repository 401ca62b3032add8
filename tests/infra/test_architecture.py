"""The real app's picture: every rule, target, mapping and API method of the templates is in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tools import architecture
from tools.architecture_graph import DEFAULT_BUS, FLOW, Graph, read_graph


@pytest.fixture(scope="module")
def graph(cloud_assembly: Path) -> Graph:
    return read_graph(cloud_assembly)


def _resources(templates: dict[str, Any], kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (stack, logical_id, resource.get("Properties", {}))
        for stack, template in templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == kind
    ]


def test_every_rule_is_drawn_on_its_bus_with_what_it_matches_and_every_target(
    graph: Graph, templates: dict[str, Any]
) -> None:
    # Given every rule of the synthesized app
    for stack, logical_id, props in _resources(templates, "AWS::Events::Rule"):
        key = f"{stack}/{logical_id}"
        node = graph.nodes[key]
        outgoing = {e.target for e in graph.edges if e.source == key and e.role == FLOW}
        incoming = {e.source for e in graph.edges if e.target == key}

        # Then it is labelled with its DetailTypes (or its schedule), hangs off a bus if it has a
        # pattern, and has one arrow per distinct target (a forwarder's target is the custom bus)
        pattern = props.get("EventPattern", {})
        expected = tuple(pattern.get("detail-type", ())) or (
            (props["ScheduleExpression"],) if "ScheduleExpression" in props else node.detail
        )
        assert node.detail == expected, key
        if pattern:
            assert len(incoming) == 1 and graph.nodes[next(iter(incoming))].kind == "bus", key
        assert len(outgoing) == len({str(t["Arn"]) for t in props["Targets"]}), key


def test_mappings_api_methods_and_forwarders_are_drawn(graph: Graph, templates: dict[str, Any]) -> None:
    # Then every event source mapping and every API method is an arrow into its function
    mappings = _resources(templates, "AWS::Lambda::EventSourceMapping")
    methods = _resources(templates, "AWS::ApiGateway::Method")
    into_functions = [e for e in graph.edges if graph.nodes[e.target].kind == "function" and e.role == FLOW]
    assert len([e for e in into_functions if graph.nodes[e.source].kind in ("table", "queue")]) == len(
        mappings
    )
    assert len([e for e in into_functions if graph.nodes[e.source].kind == "api"]) == len(methods)
    # And the default bus forwards to the custom bus, and the invoice bucket sends it its events
    custom = {k for k, n in graph.nodes.items() if n.kind == "bus" and k != DEFAULT_BUS}
    forwarders = {
        e.source for e in graph.edges if e.target in custom and graph.nodes[e.source].kind == "rule"
    }
    assert forwarders and all(
        any(e.source == DEFAULT_BUS and e.target == f for e in graph.edges) for f in forwarders
    )
    assert any(graph.nodes[e.source].kind == "bucket" and e.target == DEFAULT_BUS for e in graph.edges)


def test_the_overview_has_the_bus_every_routing_rule_and_every_producer(graph: Graph) -> None:
    # When the README's overview is drawn
    edges = architecture.overview(graph)
    drawn = {e.source for e in edges} | {e.target for e in edges}

    # Then every rule with a pattern and everything that puts events on a bus is in it; no failure path
    routing = {e.target for e in graph.edges if graph.nodes[e.source].kind == "bus" and e.role == FLOW}
    producers = {e.source for e in graph.edges if e.label == "PutEvents"}
    assert routing and producers and routing | producers <= drawn
    assert all(e.role != "failure" for e in edges)
