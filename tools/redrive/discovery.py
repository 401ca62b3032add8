"""Finds the app's dead-letter queues through the service APIs, the same on AWS and on localcloud.

No name is hard-coded: every queue, rule and function CloudFormation made for the app is named
`<appName>-<stack>-...`. A queue is a DLQ when something parks messages in it: a queue's
RedrivePolicy, a rule target's DeadLetterConfig, a function's async OnFailure destination, or a
stream mapping's OnFailure destination.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from tools.redrive.records import ON_FAILURE, QUEUE, RULE, STREAM, DeadLetterQueue, Source

Clients = Callable[[str], Any]


def discover(client: Clients, app_name: str) -> list[DeadLetterQueue]:
    """Every DLQ of the app, in name order, each with what parks messages in it."""
    prefix = f"{app_name}-"
    sqs = client("sqs")
    urls = _pages(sqs, "list_queues", "QueueUrls", QueueNamePrefix=prefix)
    arns: dict[str, str] = {}  # queue ARN -> URL
    redrive: list[tuple[str, str, dict[str, Any]]] = []  # (source URL, source ARN, policy)
    for url in urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"])
        attributes = attributes.get("Attributes", {})
        arns[attributes["QueueArn"]] = url
        if attributes.get("RedrivePolicy"):
            redrive.append((url, attributes["QueueArn"], json.loads(attributes["RedrivePolicy"])))

    found: dict[str, DeadLetterQueue] = {}

    def park(dlq_arn: str | None, source: Source) -> None:
        if not dlq_arn or dlq_arn not in arns:  # a DLQ outside the app: not ours to touch
            return
        dlq = found.setdefault(dlq_arn, DeadLetterQueue(_name(dlq_arn), arns[dlq_arn], dlq_arn))
        if source not in dlq.sources:
            dlq.sources.append(source)

    for _url, arn, policy in redrive:
        park(
            policy.get("deadLetterTargetArn"),
            Source(QUEUE, _name(arn), arn, f"maxReceiveCount {policy.get('maxReceiveCount')}"),
        )
    for rule, bus, target in _rule_targets(client("events"), prefix):
        dlq_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        label = f"{rule['Name']}/{target['Id']}" + ("" if bus == "default" else f" on {bus}")
        park(dlq_arn, Source(RULE, label, rule["Arn"], f"target {_name(target['Arn'])}"))
    lambda_ = client("lambda")
    for function in _pages(lambda_, "list_functions", "Functions"):
        name = function["FunctionName"]
        if not name.startswith(prefix):
            continue
        for config in _pages(
            lambda_, "list_function_event_invoke_configs", "FunctionEventInvokeConfigs", FunctionName=name
        ):
            destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            park(destination, Source(ON_FAILURE, name, function["FunctionArn"]))
        for mapping in _pages(
            lambda_, "list_event_source_mappings", "EventSourceMappings", FunctionName=name
        ):
            destination = ((mapping.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            if destination:
                park(
                    destination,
                    Source(STREAM, name, mapping.get("EventSourceArn", ""), f"mapping {mapping.get('UUID')}"),
                )
    return sorted(found.values(), key=lambda dlq: dlq.name)


def select(dlqs: list[DeadLetterQueue], wanted: str | None) -> list[DeadLetterQueue]:
    """`--queue`: a kind (queue, rule, onfailure, stream), or a substring of the DLQ's or a source's name."""
    if not wanted or wanted == "all":
        return dlqs
    if wanted in (QUEUE, RULE, ON_FAILURE, STREAM):
        return [dlq for dlq in dlqs if dlq.kind == wanted]
    needle = wanted.lower()
    return [
        dlq
        for dlq in dlqs
        if needle in dlq.name.lower()
        or needle == dlq.url.lower()
        or needle == dlq.arn.lower()
        or any(needle in source.name.lower() for source in dlq.sources)
    ]


def _rule_targets(events: Any, prefix: str) -> Iterator[tuple[dict[str, Any], str, dict[str, Any]]]:
    for bus in _pages(events, "list_event_buses", "EventBuses"):
        for rule in _pages(events, "list_rules", "Rules", EventBusName=bus["Name"]):
            if not rule["Name"].startswith(prefix):
                continue
            for target in _pages(
                events, "list_targets_by_rule", "Targets", Rule=rule["Name"], EventBusName=bus["Name"]
            ):
                yield rule, bus["Name"], target


def _pages(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
    """Every item of a listing, following NextToken/NextMarker by hand (not every listing has a paginator)."""
    items: list[Any] = []
    token_param, token_key = ("Marker", "NextMarker") if operation in _MARKER else ("NextToken", "NextToken")
    while True:
        page = getattr(client, operation)(**params)
        items.extend(page.get(key) or [])
        token = page.get(token_key)
        if not token:
            return items
        params[token_param] = token


_MARKER = {"list_functions", "list_function_event_invoke_configs", "list_event_source_mappings"}


def _name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]
