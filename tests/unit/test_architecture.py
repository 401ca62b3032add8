"""The architecture picture: drawn from a small hand-made cloud assembly, every kind of reference resolved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools import architecture
from tools.architecture_graph import DATA, DEFAULT_BUS, FAILURE, FLOW, Edge, Graph, read_graph

BUS_ARN_EXPORT = "Core:ExportsOutputFnGetAttBusArn"
BUS_NAME_EXPORT = "Core:ExportsOutputRefBus"


def _core() -> dict[str, Any]:
    return {
        "Resources": {
            "Bus1234ABCD": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "shop-bus"}},
            "Archive5678ABCD": {
                "Type": "AWS::Events::Archive",
                "Properties": {"SourceArn": {"Fn::GetAtt": ["Bus1234ABCD", "Arn"]}},
            },
            "AlarmTopic0000AAAA": {"Type": "AWS::SNS::Topic", "Properties": {}},
        },
        "Outputs": {
            "ExportBusArn": {
                "Value": {"Fn::GetAtt": ["Bus1234ABCD", "Arn"]},
                "Export": {"Name": BUS_ARN_EXPORT},
            },
            "ExportBusName": {"Value": {"Ref": "Bus1234ABCD"}, "Export": {"Name": BUS_NAME_EXPORT}},
        },
    }


def _shop() -> dict[str, Any]:
    arn = {"Fn::GetAtt": ["ShipFunction11111111", "Arn"]}
    return {
        "Resources": {
            "ShopShipRule22222222": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventBusName": {"Fn::ImportValue": BUS_NAME_EXPORT},
                    "EventPattern": {"source": ["shop"], "detail-type": ["OrderPaid", "OrderGift"]},
                    "Targets": [
                        {
                            "Id": "Target0",
                            "Arn": arn,
                            "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["ShopShipDlq33333333", "Arn"]}},
                        }
                    ],
                },
            },
            "ShopShipDlq33333333": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "ShipFunction11111111": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Role": {"Fn::GetAtt": ["ShipRole44444444", "Arn"]}},
            },
            "ShipRole44444444": {"Type": "AWS::IAM::Role", "Properties": {}},
            "ShipPolicy55555555": {
                "Type": "AWS::IAM::Policy",
                "Properties": {
                    "Roles": [{"Ref": "ShipRole44444444"}],
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "events:PutEvents",
                                "Resource": {"Fn::ImportValue": BUS_ARN_EXPORT},
                            },
                            {
                                "Effect": "Allow",
                                "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
                                "Resource": [{"Fn::GetAtt": ["Orders66666666", "Arn"]}],
                            },
                            {
                                "Effect": "Allow",
                                "Action": "sqs:SendMessage",
                                "Resource": {"Fn::GetAtt": ["ShipFailures77777777", "Arn"]},
                            },
                            {"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"},
                        ]
                    },
                },
            },
            "ShipInvokeConfig88888888": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {
                    "FunctionName": {"Ref": "ShipFunction11111111"},
                    "DestinationConfig": {
                        "OnFailure": {"Destination": {"Fn::GetAtt": ["ShipFailures77777777", "Arn"]}}
                    },
                },
            },
            "ShipFailures77777777": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Orders66666666": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {"StreamSpecification": {"StreamViewType": "NEW_IMAGE"}},
                "DeletionPolicy": "Retain",
            },
            "OutboxFunction99999999": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "OutboxMappingAAAAAAAA": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": {"Fn::GetAtt": ["Orders66666666", "StreamArn"]},
                    "FunctionName": {"Ref": "OutboxFunction99999999"},
                },
            },
            "WorkQueueBBBBBBBB": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "RedrivePolicy": {
                        "deadLetterTargetArn": {"Fn::GetAtt": ["WorkDlqCCCCCCCC", "Arn"]},
                        "maxReceiveCount": 3,
                    }
                },
            },
            "WorkDlqCCCCCCCC": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Invoices0000DDDD": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
                },
            },
            # A forwarder on the default bus whose target is the bus given as a literal ARN.
            "ForwardEEEEEEEE": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventBusName": "default",
                    "EventPattern": {"source": ["aws.s3"]},
                    "Targets": [
                        {"Id": "Bus", "Arn": "arn:aws:events:eu-west-1:111122223333:event-bus/shop-bus"}
                    ],
                },
            },
            "ApiFFFFFFFF": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "shop-api"}},
            "ApiOrders00000001": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {
                    "PathPart": "orders",
                    "ParentId": {"Fn::GetAtt": ["ApiFFFFFFFF", "RootResourceId"]},
                },
            },
            "ApiOrdersPost0002": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "HttpMethod": "POST",
                    "RestApiId": {"Ref": "ApiFFFFFFFF"},
                    "ResourceId": {"Ref": "ApiOrders00000001"},
                    "Integration": {
                        "Uri": {
                            "Fn::Join": [
                                "",
                                [
                                    "arn:aws:apigateway:lambda:path/functions/",
                                    {"Fn::GetAtt": ["OutboxFunction99999999", "Arn"]},
                                ],
                            ]
                        }
                    },
                },
            },
        }
    }


def _assembly(directory: Path, shop: dict[str, Any] | None = None) -> Path:
    """A cdk.out with two stacks: Core (the bus, exported) and Shop (importing it)."""
    directory.mkdir(parents=True, exist_ok=True)
    templates = {"Core": _core(), "Shop": shop or _shop()}
    artifacts: dict[str, Any] = {}
    for name, template in templates.items():
        (directory / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "properties": {"templateFile": f"{name}.template.json"},
            "dependencies": ["Core"] if name == "Shop" else [],
        }
    (directory / "manifest.json").write_text(json.dumps({"version": "1", "artifacts": artifacts}))
    return directory


@pytest.fixture
def graph(tmp_path: Path) -> Graph:
    return read_graph(_assembly(tmp_path / "cdk.out"))


def _edge(graph: Graph, source: str, target: str) -> Edge:
    found = [e for e in graph.edges if e.source.endswith(source) and e.target.endswith(target)]
    assert len(found) == 1, f"{source} -> {target}: {found}"
    return found[0]


def test_references_across_stacks_and_kinds_become_edges(graph: Graph) -> None:
    # Given the hand-made assembly (read by the fixture)
    # Then the rule hangs off the imported bus, routes to its function and has its DLQ
    assert _edge(graph, "/Bus1234ABCD", "/ShopShipRule22222222").role == FLOW
    assert _edge(graph, "/ShopShipRule22222222", "/ShipFunction11111111").role == FLOW
    assert _edge(graph, "/ShopShipRule22222222", "/ShopShipDlq33333333") == Edge(
        "Shop/ShopShipRule22222222", "Shop/ShopShipDlq33333333", "DLQ", FAILURE
    )
    # And the function's role policy makes it a producer (imported ARN) and a table user
    assert _edge(graph, "/ShipFunction11111111", "/Bus1234ABCD").label == "PutEvents"
    assert _edge(graph, "/ShipFunction11111111", "/Orders66666666").role == DATA
    # And the queue it may send to is its failure destination, drawn once, as a failure path
    assert _edge(graph, "/ShipFunction11111111", "/ShipFailures77777777") == Edge(
        "Shop/ShipFunction11111111", "Shop/ShipFailures77777777", "on failure", FAILURE
    )
    # And the stream, the redrive policy, the bucket's events, the forwarder and the API method
    assert _edge(graph, "/Orders66666666", "/OutboxFunction99999999").label == "stream"
    assert _edge(graph, "/WorkQueueBBBBBBBB", "/WorkDlqCCCCCCCC").label == "after 3 receives"
    assert _edge(graph, "/Invoices0000DDDD", DEFAULT_BUS).label == "S3 events"
    assert _edge(graph, DEFAULT_BUS, "/ForwardEEEEEEEE").role == FLOW
    assert _edge(graph, "/ForwardEEEEEEEE", "/Bus1234ABCD").role == FLOW
    assert _edge(graph, "/ApiFFFFFFFF", "/OutboxFunction99999999").label == "POST /orders"
    assert _edge(graph, "/Bus1234ABCD", "/Archive5678ABCD").role == DATA
    # And nothing is drawn for what is not an app resource (X-Ray's "*", roles, policies)
    assert not any("Role" in e.target or "Policy" in e.target for e in graph.edges)


def test_nodes_are_labelled_for_people(graph: Graph) -> None:
    # Given the hand-made assembly
    nodes = {n.logical_id: n for n in graph.nodes.values()}

    # Then rules carry their DetailTypes (or sources), queues what they are for, and names drop the hash
    assert nodes["ShopShipRule22222222"].detail == ("OrderPaid", "OrderGift")
    assert nodes["ForwardEEEEEEEE"].detail == ("source: aws.s3",)
    assert nodes["ShopShipDlq33333333"].kind == "DLQ"
    assert nodes["WorkDlqCCCCCCCC"].kind == "DLQ"
    assert nodes["ShipFailures77777777"].kind == "failure destination"
    assert nodes["WorkQueueBBBBBBBB"].kind == "queue"
    assert nodes["Bus1234ABCD"].label == "shop-bus"
    assert nodes["OutboxFunction99999999"].label == "Outbox"


def test_overview_is_the_flow_of_events_around_the_bus(graph: Graph) -> None:
    # When the overview is drawn
    text = architecture.mermaid(graph, architecture.overview(graph))

    # Then it shows producers, the bus, the rule with its DetailTypes and its target, grouped per stack
    assert text.startswith("```mermaid\nflowchart LR\n")
    assert 'subgraph Core["Core"]' in text and 'subgraph Shop["Shop"]' in text
    assert 'ShopShipRule22222222(["ShopShip<br/><i>OrderPaid</i><br/><i>OrderGift</i>"])' in text
    assert "ShopShipRule22222222 --> ShipFunction11111111" in text
    assert 'ShipFunction11111111 -->|"PutEvents"| Bus1234ABCD' in text
    assert 'ApiFFFFFFFF -->|"POST /orders"| OutboxFunction99999999' in text
    # And no failure path, no DLQ, nothing unconnected to a bus
    assert "-.->" not in text and "ShopShipDlq33333333" not in text and "WorkQueueBBBBBBBB" not in text


def test_the_stack_view_has_every_resource_of_the_stack(graph: Graph) -> None:
    # When the full document is drawn
    text = architecture.document(graph)

    # Then each stack has its section, with its failure paths and its unconnected resources
    assert "## Core\n" in text and "## Shop\n" in text
    assert 'ShopShipRule22222222 -.->|"DLQ"| ShopShipDlq33333333' in text
    assert 'WorkQueueBBBBBBBB -.->|"after 3 receives"| WorkDlqCCCCCCCC' in text
    assert "AlarmTopic0000AAAA" in text


def test_output_is_deterministic_whatever_the_template_order(tmp_path: Path) -> None:
    # Given the same assembly twice, the second with its resources and statements in reverse order
    shop = _shop()
    reversed_shop = {"Resources": dict(reversed(list(shop["Resources"].items())))}
    first = read_graph(_assembly(tmp_path / "a", shop))
    second = read_graph(_assembly(tmp_path / "b", reversed_shop))

    # Then the documents are the same text
    assert architecture.document(first) == architecture.document(second)
