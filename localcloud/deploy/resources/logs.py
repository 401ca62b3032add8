"""CloudWatch Logs handlers, and CDK's log-retention custom resource."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from localcloud.deploy.resources.common import (
    Created,
    ResourceCall,
    as_json,
    camel,
    error_code,
    pick,
    tag_dict,
)


def log_group_arn(call: ResourceCall, name: str) -> str:
    return call.arn("logs", f"log-group:{name}:*")


def put_retention(call: ResourceCall, name: str, days: Any) -> None:
    if days is not None and str(days) != "Infinity":
        call.client("logs").put_retention_policy(logGroupName=name, retentionInDays=int(days))


def logs_log_group(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("LogGroupName") or call.name(512)
    params: dict[str, Any] = {
        "logGroupName": name,
        **pick(p, "KmsKeyId", "LogGroupClass", rename=LOGS_RENAME),
    }
    if p.get("Tags"):
        params["tags"] = tag_dict(p)
    call.client("logs").create_log_group(**params)
    put_retention(call, name, p.get("RetentionInDays"))
    return Created(name, {"Arn": log_group_arn(call, name)})


LOGS_RENAME = {"KmsKeyId": "kmsKeyId", "LogGroupClass": "logGroupClass"}


def logs_metric_filter(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("FilterName") or call.name(512)
    call.client("logs").put_metric_filter(
        logGroupName=p["LogGroupName"],
        filterName=name,
        filterPattern=p["FilterPattern"],
        metricTransformations=camel(p["MetricTransformations"]),
    )
    return Created(name)


def logs_resource_policy(call: ResourceCall) -> Created:
    p = call.props
    call.client("logs").put_resource_policy(
        policyName=p["PolicyName"], policyDocument=as_json(p["PolicyDocument"])
    )
    return Created(p["PolicyName"])


def custom_log_retention(call: ResourceCall) -> Created:
    """CDK's `logRetention` custom resource: create the group if missing and set its retention."""
    name = call.props["LogGroupName"]
    try:
        call.client("logs").create_log_group(logGroupName=name)
    except ClientError as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise
    put_retention(call, name, call.props.get("RetentionInDays"))
    return Created(name)
