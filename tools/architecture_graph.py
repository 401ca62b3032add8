"""The app's resources and how they connect, read from the synthesized templates (`cdk.out`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.deploy.assembly import StackArtifact, read_assembly
from localcloud.deploy.intrinsics import references

# The resource types drawn, and the kind each becomes.
KINDS = {
    "AWS::Events::EventBus": "bus",
    "AWS::Events::Rule": "rule",
    "AWS::Events::Archive": "archive",
    "AWS::Lambda::Function": "function",
    "AWS::StepFunctions::StateMachine": "state machine",
    "AWS::SQS::Queue": "queue",
    "AWS::DynamoDB::Table": "table",
    "AWS::SNS::Topic": "topic",
    "AWS::S3::Bucket": "bucket",
    "AWS::ApiGateway::RestApi": "api",
    "AWS::SES::EmailIdentity": "email identity",
}
DEFAULT_BUS = "default-bus"
# Edge roles: the overview keeps the flow of events and drops failure paths and data access.
FLOW, FAILURE, DATA = "flow", "failure", "data"
_HASH = re.compile(r"[0-9A-F]{8}$")
_WORD = re.compile(r"[A-Z][a-z0-9]*|[a-z0-9]+")
_KIND_WORD = {
    "rule": "Rule",
    "function": "Function",
    "queue": "Queue",
    "table": "Table",
    "state machine": "StateMachine",
}
_STREAM_ONLY = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}


@dataclass(frozen=True, order=True)
class Node:
    key: str  # "<stack>/<logical id>", or DEFAULT_BUS
    stack: str  # "" for the account's default bus
    logical_id: str
    kind: str
    label: str
    detail: tuple[str, ...] = ()  # more lines under the label (a rule's DetailTypes, a queue's role)


@dataclass(frozen=True, order=True)
class Edge:
    source: str
    target: str
    label: str = ""
    role: str = FLOW


@dataclass
class Graph:
    stacks: list[str]  # in deployment order
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[Edge] = field(default_factory=set)

    def add(self, source: str | None, target: str | None, label: str = "", role: str = FLOW) -> None:
        if source and target and source != target and source in self.nodes and target in self.nodes:
            self.edges.add(Edge(source, target, label, role))


def read_graph(cdk_out: Path) -> Graph:
    """Every drawn resource of the app and every connection the templates declare between them."""
    stacks, _ = read_assembly(cdk_out)
    return build_graph(stacks)


def build_graph(stacks: list[StackArtifact]) -> Graph:
    return _Builder(stacks).build()


class _Builder:
    def __init__(self, stacks: list[StackArtifact]) -> None:
        self.stacks = stacks
        self.templates = {s.name: s.template for s in stacks}
        self.exports: dict[str, tuple[str, Any]] = {
            str(output["Export"]["Name"]): (s.name, output.get("Value"))
            for s in stacks
            for output in s.template.get("Outputs", {}).values()
            if isinstance(output.get("Export", {}).get("Name"), str)
        }
        self.graph = Graph(stacks=[s.name for s in stacks])

    # -- resolution

    def resources(self, stack: str) -> Mapping[str, Any]:
        resources: Mapping[str, Any] = self.templates[stack].get("Resources", {})
        return resources

    def refs(self, stack: str, value: Any) -> Iterator[str]:
        """The resources a value names: Ref, Fn::GetAtt, Fn::Sub, Fn::ImportValue (across stacks)."""
        if isinstance(value, dict):
            if len(value) == 1 and "Fn::ImportValue" in value:
                name = value["Fn::ImportValue"]
                if isinstance(name, str) and name in self.exports:
                    yield from self.refs(*self.exports[name])
                return
            if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt", "Fn::Sub"):
                yield from (f"{stack}/{i}" for i in references(value) if i in self.resources(stack))
                if "Fn::Sub" not in value:
                    return
            for item in value.values():
                yield from self.refs(stack, item)
        elif isinstance(value, list):
            for item in value:
                yield from self.refs(stack, item)
        elif isinstance(value, str) and (value == "default" or value.endswith(":event-bus/default")):
            yield DEFAULT_BUS

    def one(self, stack: str, value: Any) -> str | None:
        found = sorted(set(self.refs(stack, value)))
        return found[0] if len(found) == 1 else None

    def bus_of(self, stack: str, value: Any) -> str | None:
        """A rule's bus: absent or "default" is the account's default bus; a name or ARN names a bus."""
        if value is None:
            return DEFAULT_BUS
        return self.one(stack, value) or self._bus_named(value)

    def _bus_named(self, value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        name = value.rsplit("event-bus/", 1)[-1]
        for key, node in self.graph.nodes.items():
            if node.kind == "bus" and key != DEFAULT_BUS and self._property(key, "Name") == name:
                return key
        return None

    def _property(self, key: str, name: str) -> Any:
        stack, _, logical_id = key.partition("/")
        return self.resources(stack).get(logical_id, {}).get("Properties", {}).get(name)

    # -- the graph

    def build(self) -> Graph:
        self.graph.nodes[DEFAULT_BUS] = Node(
            DEFAULT_BUS, "", "DefaultBus", "bus", "default bus", ("the account's",)
        )
        for stack in self.graph.stacks:
            self._nodes(stack)
        # Policies last: a queue a function may send to is drawn as its failure destination if it is one.
        for policies in (False, True):
            for stack in self.graph.stacks:
                for logical_id, resource in sorted(self.resources(stack).items()):
                    kind = resource.get("Type")
                    if (kind in ("AWS::IAM::Policy", "AWS::IAM::Role")) == policies:
                        self._edges(stack, logical_id, kind, resource.get("Properties", {}))
        self._name_queues()
        return self.graph

    def _nodes(self, stack: str) -> None:
        drawn = sorted(i for i, r in self.resources(stack).items() if r.get("Type") in KINDS)
        prefix = _common_words([_HASH.sub("", i) for i in drawn])
        for logical_id in drawn:
            resource = self.resources(stack)[logical_id]
            kind = KINDS[resource["Type"]]
            label = _HASH.sub("", logical_id)[len(prefix) :] or _HASH.sub("", logical_id)
            # The shape says the kind: "PaymentDlqQueue" reads "PaymentDlq", "OrdersTable" "Orders".
            suffix = _KIND_WORD.get(kind, "")
            label = label[: -len(suffix)] if suffix and label.endswith(suffix) and label != suffix else label
            props = resource.get("Properties", {})
            if kind in ("bus", "api") and isinstance(props.get("Name"), str):
                label = props["Name"]
            detail = _rule_detail(props) if kind == "rule" else ()
            key = f"{stack}/{logical_id}"
            self.graph.nodes[key] = Node(key, stack, logical_id, kind, label, detail)

    def _edges(self, stack: str, logical_id: str, kind: Any, props: Mapping[str, Any]) -> None:
        key = f"{stack}/{logical_id}"
        add = self.graph.add
        if kind == "AWS::Events::Rule":
            if "EventPattern" in props:
                add(self.bus_of(stack, props.get("EventBusName")), key)
            for target in props.get("Targets", []):
                arn = target.get("Arn")
                destination = self.one(stack, arn) or self._bus_named(arn)
                add(key, destination, "input transformer" if "InputTransformer" in target else "")
                add(key, self.one(stack, target.get("DeadLetterConfig", {}).get("Arn")), "DLQ", FAILURE)
        elif kind == "AWS::Events::Archive":
            add(self.one(stack, props.get("SourceArn")), key, "archive", DATA)
        elif kind == "AWS::S3::Bucket" and props.get("NotificationConfiguration", {}).get(
            "EventBridgeConfiguration", {}
        ).get("EventBridgeEnabled"):
            add(key, DEFAULT_BUS, "S3 events")
        elif kind == "AWS::Lambda::EventSourceMapping":
            function = self.one(stack, props.get("FunctionName"))
            source = self.one(stack, props.get("EventSourceArn"))
            via = "stream" if source and self.graph.nodes[source].kind == "table" else ""
            add(source, function, via)
            on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            add(function, self.one(stack, on_failure), "on failure", FAILURE)
        elif kind == "AWS::Lambda::EventInvokeConfig":
            on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            add(
                self.one(stack, props.get("FunctionName")), self.one(stack, on_failure), "on failure", FAILURE
            )
        elif kind == "AWS::SQS::Queue" and "RedrivePolicy" in props:
            policy = props["RedrivePolicy"]
            receives = policy.get("maxReceiveCount")
            add(
                key, self.one(stack, policy.get("deadLetterTargetArn")), f"after {receives} receives", FAILURE
            )
        elif kind == "AWS::SNS::Subscription":
            topic = self.one(stack, props.get("TopicArn"))
            add(topic, self.one(stack, props.get("Endpoint")), "subscription")
            add(
                topic,
                self.one(stack, props.get("RedrivePolicy", {}).get("deadLetterTargetArn")),
                "DLQ",
                FAILURE,
            )
        elif kind == "AWS::ApiGateway::Method":
            self._method(stack, props)
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::Role"):
            self._policies(stack, logical_id, kind, props)

    def _method(self, stack: str, props: Mapping[str, Any]) -> None:
        function = self.one(stack, props.get("Integration", {}).get("Uri"))
        api = self.one(stack, props.get("RestApiId"))
        path = self._path(stack, props.get("ResourceId"))
        self.graph.add(api, function, f"{props.get('HttpMethod')} {path}")

    def _path(self, stack: str, resource_id: Any) -> str:
        """A method's path, from its resource up to the API's root (`Fn::GetAtt [Api, RootResourceId]`)."""
        parts: list[str] = []
        while isinstance(resource_id, dict) and "Ref" in resource_id:
            resource = self.resources(stack).get(resource_id["Ref"], {})
            parts.insert(0, str(resource.get("Properties", {}).get("PathPart", "?")))
            resource_id = resource.get("Properties", {}).get("ParentId")
        return "/" + "/".join(parts)

    def _policies(self, stack: str, logical_id: str, kind: str, props: Mapping[str, Any]) -> None:
        """Edges from what a function's or state machine's role may do to the app's resources."""
        if kind == "AWS::IAM::Role":
            roles = [f"{stack}/{logical_id}"]
            documents = [p.get("PolicyDocument", {}) for p in props.get("Policies", [])]
        else:
            roles = [r for role in props.get("Roles", []) for r in self.refs(stack, role)]
            documents = [props.get("PolicyDocument", {})]
        principals = sorted(p for role in roles for p in self._principals(role))
        for document in documents:
            for statement in document.get("Statement", []):
                if statement.get("Effect") != "Allow":
                    continue
                actions = statement.get("Action", [])
                actions = {actions} if isinstance(actions, str) else set(actions)
                for resource in sorted(set(self.refs(stack, statement.get("Resource")))):
                    for principal in principals:
                        self._grant(principal, resource, actions)

    def _principals(self, role: str) -> Iterator[str]:
        for key, node in self.graph.nodes.items():
            if node.kind in ("function", "state machine"):
                role_arn = self._property(key, "Role" if node.kind == "function" else "RoleArn")
                if role in self.refs(node.stack, role_arn):
                    yield key

    def _grant(self, principal: str, resource: str, actions: set[str]) -> None:
        target = self.graph.nodes.get(resource)
        if target is None:  # log groups, keys, roles: not drawn
            return
        add = self.graph.add
        if target.kind == "bus" and "events:PutEvents" in actions:
            add(principal, resource, "PutEvents")
        elif target.kind == "function" and "lambda:InvokeFunction" in actions:
            add(principal, resource, "invokes")
        elif target.kind == "state machine" and actions & {
            "states:StartExecution",
            "states:StartSyncExecution",
        }:
            add(principal, resource, "starts")
        elif target.kind == "queue" and "sqs:SendMessage" in actions:
            failure = any(e.source == principal and e.target == resource for e in self.graph.edges)
            if not failure:
                add(principal, resource, "sends")
        elif target.kind == "topic" and "sns:Publish" in actions:
            add(principal, resource, "publishes")
        elif _reads_or_writes(target.kind, actions):
            add(principal, resource, "", DATA)
        elif target.kind == "email identity" and any(a.startswith("ses:") for a in actions):
            add(principal, resource, "sends mail")

    def _name_queues(self) -> None:
        """A queue says what it is for: a DLQ (of a rule, subscription or queue), a failure destination."""
        for key, node in list(self.graph.nodes.items()):
            if node.kind != "queue":
                continue
            incoming = {e.label for e in self.graph.edges if e.target == key and e.role == FAILURE}
            if "on failure" in incoming:
                role = "failure destination"
            elif incoming:
                role = "DLQ"
            else:
                role = "queue"
            self.graph.nodes[key] = Node(key, node.stack, node.logical_id, role, node.label, node.detail)


def _reads_or_writes(kind: str, actions: set[str]) -> bool:
    """Data access: DynamoDB actions on a table (reading its stream is the mapping's edge), S3 on a bucket."""
    if kind == "table":
        return bool(actions - _STREAM_ONLY) and any(a.startswith("dynamodb:") for a in actions)
    return kind == "bucket" and any(a.startswith("s3:") for a in actions)


def _rule_detail(props: Mapping[str, Any]) -> tuple[str, ...]:
    """What a rule matches, in a line or two: its DetailTypes (else its sources), or its schedule."""
    if "ScheduleExpression" in props:
        return (str(props["ScheduleExpression"]),)
    pattern = props.get("EventPattern", {})
    if isinstance(pattern, str):
        pattern = json.loads(pattern)
    detail_types = [str(t) for t in pattern.get("detail-type", []) if isinstance(t, str)]
    if detail_types:
        return tuple(detail_types)
    sources = [str(s) for s in pattern.get("source", []) if isinstance(s, str)]
    return (f"source: {', '.join(sources)}",) if sources else ("any event",)


def _common_words(names: list[str]) -> str:
    """The CamelCase words every name starts with (the construct they share), if every name keeps a word."""
    if len(names) < 2:
        return ""
    split = [_WORD.findall(n) for n in names]
    common: list[str] = []
    for words in zip(*split, strict=False):
        if len(set(words)) != 1:
            break
        common.append(words[0])
    while common and any(len(w) <= len(common) for w in split):
        common.pop()
    return "".join(common)
