"""EventBridge handlers: buses, bus policies, archives, rules and their targets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from localcloud.deploy.resources.common import (
    Created,
    DeployError,
    ResourceCall,
    as_json,
    pick,
    tag_list,
)


def bus_name_of(value: str | None) -> str:
    """A bus name from a name or an ARN (`...:event-bus/name`)."""
    return (value or "default").split("event-bus/")[-1]


def events_event_bus(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("Name") or call.name(256)
    params = {
        "Name": name,
        **pick(p, "EventSourceName", "Description", "KmsKeyIdentifier", "DeadLetterConfig"),
    }
    if p.get("Tags"):
        params["Tags"] = tag_list(p)
    arn = call.client("events").create_event_bus(**params)["EventBusArn"]
    if p.get("Policy"):
        call.client("events").put_permission(EventBusName=name, Policy=as_json(p["Policy"]))
    return Created(name, {"Arn": arn, "Name": name})


def events_event_bus_policy(call: ResourceCall) -> Created:
    p = call.props
    bus = bus_name_of(p.get("EventBusName"))
    statement_id = str(p["StatementId"])
    events = call.client("events")
    if p.get("Statement"):
        # Put as a one-statement policy: moto merges it into the bus's policy by Sid, as AWS does.
        statement = {"Sid": statement_id, **p["Statement"]}
        events.put_permission(
            EventBusName=bus, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        )
    else:
        params = pick(p, "Action", "Principal", "Condition")
        events.put_permission(EventBusName=bus, StatementId=statement_id, **params)
    return Created(statement_id)


def events_archive(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("ArchiveName") or call.name(48)
    params: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": p["SourceArn"]}
    params.update(pick(p, "Description", "RetentionDays"))
    if p.get("EventPattern"):
        params["EventPattern"] = as_json(p["EventPattern"])
    if p.get("KmsKeyIdentifier"):  # CDK emits "" for "no key"; the API rejects an empty string
        params["KmsKeyIdentifier"] = p["KmsKeyIdentifier"]
    arn = call.client("events").create_archive(**params)["ArchiveArn"]
    return Created(name, {"Arn": arn, "ArchiveName": name})


RULE_TARGET_INTS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds")


def rule_target(target: Mapping[str, Any]) -> dict[str, Any]:
    """A Targets entry as PutTargets takes it: same keys; numbers in RetryPolicy must be ints."""
    out = dict(target)
    if "RetryPolicy" in out:
        out["RetryPolicy"] = {
            k: int(v) if k in RULE_TARGET_INTS else v for k, v in out["RetryPolicy"].items()
        }
    return out


def events_rule(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("Name") or call.name(64)
    bus = bus_name_of(p.get("EventBusName"))
    params: dict[str, Any] = {"Name": name, "EventBusName": bus}
    params.update(pick(p, "Description", "ScheduleExpression", "State", "RoleArn"))
    if p.get("EventPattern"):
        params["EventPattern"] = as_json(p["EventPattern"])
    if p.get("Tags"):
        params["Tags"] = tag_list(p)
    events = call.client("events")
    arn = events.put_rule(**params)["RuleArn"]
    targets = [rule_target(t) for t in p.get("Targets") or []]
    if targets:
        response = events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        if response.get("FailedEntryCount"):
            raise DeployError(f"PutTargets failed: {response['FailedEntries']}")
    # CloudFormation's Ref of a rule on a custom bus is "bus|rule" (cloudformation-coverage-roadmap#1131).
    ref = name if bus == "default" else f"{bus}|{name}"
    return Created(ref, {"Arn": arn})
