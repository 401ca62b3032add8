"""Handlers for SES, CloudWatch alarms and dashboards, SSM, Step Functions and IoT."""

from __future__ import annotations

import hashlib
from typing import Any

from localcloud.deploy.resources.common import (
    Created,
    DeployError,
    ResourceCall,
    as_json,
    as_text,
    camel,
    pick,
    tag_dict,
    tag_list,
)


def ses_email_identity(call: ResourceCall) -> Created:
    p = call.props
    identity = str(p["EmailIdentity"])
    params: dict[str, Any] = {"EmailIdentity": identity}
    if p.get("Tags"):
        params["Tags"] = tag_list(p)
    if (p.get("ConfigurationSetAttributes") or {}).get("ConfigurationSetName"):
        params["ConfigurationSetName"] = p["ConfigurationSetAttributes"]["ConfigurationSetName"]
    # moto counts an identity as verified once it exists: SendEmail from it succeeds, as after verification.
    call.client("sesv2").create_email_identity(**params)
    domain = identity.split("@")[-1]
    attributes: dict[str, Any] = {}
    for n in (1, 2, 3):
        token = hashlib.sha256(f"{identity}/{n}".encode()).hexdigest()[:32]
        attributes[f"DkimDNSTokenName{n}"] = f"{token}._domainkey.{domain}"
        attributes[f"DkimDNSTokenValue{n}"] = f"{token}.dkim.amazonses.com"
    return Created(identity, attributes)


CLOUDWATCH_ALARM_PARAMS = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Unit",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
    "ComparisonOperator",
)


def cloudwatch_alarm(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("AlarmName") or call.name(255)
    params: dict[str, Any] = {"AlarmName": name, **pick(p, *CLOUDWATCH_ALARM_PARAMS)}
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if p.get(key) is not None:
            params[key] = int(p[key])
    if p.get("Threshold") is not None:
        params["Threshold"] = float(p["Threshold"])
    if p.get("Tags"):
        params["Tags"] = tag_list(p)
    call.client("cloudwatch").put_metric_alarm(**params)
    return Created(name, {"Arn": call.arn("cloudwatch", f"alarm:{name}")})


def cloudwatch_dashboard(call: ResourceCall) -> Created:
    name = call.props.get("DashboardName") or call.name(255)
    call.client("cloudwatch").put_dashboard(
        DashboardName=name, DashboardBody=as_json(call.props["DashboardBody"])
    )
    return Created(name)


def ssm_parameter(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("Name") or "CFN-" + call.name(2044, with_stack=False)
    params: dict[str, Any] = {
        "Name": name,
        "Value": as_text(p["Value"]),
        "Type": p.get("Type", "String"),
        **pick(p, "Description", "AllowedPattern", "Tier", "DataType", "Policies"),
    }
    if p.get("Tags"):
        params["Tags"] = [{"Key": k, "Value": v} for k, v in tag_dict(p).items()]
    call.client("ssm").put_parameter(**params)
    return Created(name, {"Type": params["Type"], "Value": params["Value"]})


def stepfunctions_state_machine(call: ResourceCall) -> Created:
    p = call.props
    if p.get("DefinitionS3Location"):
        raise DeployError("DefinitionS3Location is not supported locally: use DefinitionString/Definition")
    definition = as_json(p.get("DefinitionString") or p.get("Definition"))
    for key, value in (p.get("DefinitionSubstitutions") or {}).items():
        definition = definition.replace("${" + key + "}", as_text(value))
    name = p.get("StateMachineName") or call.name(80, with_stack=False)
    params: dict[str, Any] = {"name": name, "definition": definition, "roleArn": p["RoleArn"]}
    if p.get("StateMachineType"):
        params["type"] = p["StateMachineType"]
    if p.get("LoggingConfiguration"):
        params["loggingConfiguration"] = camel(p["LoggingConfiguration"])
    if p.get("TracingConfiguration"):
        params["tracingConfiguration"] = camel(p["TracingConfiguration"])
    if p.get("Tags"):
        params["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in tag_list(p)]
    arn = call.client("stepfunctions").create_state_machine(**params)["stateMachineArn"]
    return Created(arn, {"Arn": arn, "Name": name, "StateMachineRevisionId": "INITIAL"})


def iot_topic_rule(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("RuleName") or call.name(128, sep="_", allowed="A-Za-z0-9_")
    params: dict[str, Any] = {"ruleName": name, "topicRulePayload": camel(p["TopicRulePayload"])}
    if p.get("Tags"):
        params["tags"] = "&".join(f"{k}={v}" for k, v in tag_dict(p).items())
    call.client("iot").create_topic_rule(**params)
    return Created(name, {"Arn": call.arn("iot", f"rule/{name}")})
