"""S3 handlers: buckets, bucket policies, and CDK's bucket-notifications custom resource."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from localcloud.deploy.resources.common import (
    Created,
    ResourceCall,
    as_bool,
    pick,
    tag_list,
)


def s3_notifications(config: Mapping[str, Any]) -> dict[str, Any]:
    """A Bucket's NotificationConfiguration property in PutBucketNotificationConfiguration's shape."""
    out: dict[str, Any] = {}
    if as_bool((config.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled", False)):
        out["EventBridgeConfiguration"] = {}
    for cfn_key, api_key, cfn_target, api_target in (
        ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
    ):
        items = []
        for item in config.get(cfn_key) or []:
            entry: dict[str, Any] = {api_target: item[cfn_target], "Events": [item["Event"]]}
            rules = ((item.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                entry["Filter"] = {"Key": {"FilterRules": rules}}
            items.append(entry)
        if items:
            out[api_key] = items
    return out


def s3_lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A Bucket LifecycleConfiguration rule in PutBucketLifecycleConfiguration's shape."""
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if rule.get("Id"):
        out["ID"] = rule["Id"]
    conditions: dict[str, Any] = pick(rule, "Prefix", "ObjectSizeGreaterThan", "ObjectSizeLessThan")
    tags = [{"Key": t["Key"], "Value": t["Value"]} for t in rule.get("TagFilters") or []]
    if tags:
        conditions["Tags"] = tags
    if len(conditions) > 1 or tags:
        out["Filter"] = {"And": conditions}
    else:
        out["Filter"] = conditions or {"Prefix": ""}
    expiration = pick(rule, "ExpirationInDays", "ExpirationDate", "ExpiredObjectDeleteMarker")
    if expiration:
        out["Expiration"] = {
            {"ExpirationInDays": "Days", "ExpirationDate": "Date"}.get(k, k): v for k, v in expiration.items()
        }
    transitions = list(rule.get("Transitions") or []) + (
        [rule["Transition"]] if rule.get("Transition") else []
    )
    if transitions:
        out["Transitions"] = [
            {
                "StorageClass": t["StorageClass"],
                **pick(t, "TransitionInDays", "TransitionDate", rename=TRANSITION),
            }
            for t in transitions
        ]
    noncurrent = list(rule.get("NoncurrentVersionTransitions") or [])
    if rule.get("NoncurrentVersionTransition"):
        noncurrent.append(rule["NoncurrentVersionTransition"])
    if noncurrent:
        out["NoncurrentVersionTransitions"] = [
            {
                "StorageClass": t["StorageClass"],
                "NoncurrentDays": t["TransitionInDays"],
                **pick(t, "NewerNoncurrentVersions"),
            }
            for t in noncurrent
        ]
    if rule.get("NoncurrentVersionExpiration"):
        out["NoncurrentVersionExpiration"] = dict(rule["NoncurrentVersionExpiration"])
    elif rule.get("NoncurrentVersionExpirationInDays"):
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
    if rule.get("AbortIncompleteMultipartUpload"):
        out["AbortIncompleteMultipartUpload"] = dict(rule["AbortIncompleteMultipartUpload"])
    return out


SSE_RENAME = {"ServerSideEncryptionByDefault": "ApplyServerSideEncryptionByDefault"}
TRANSITION = {"TransitionInDays": "Days", "TransitionDate": "Date"}
S3_APPLIED = {
    "BucketName",
    "Tags",
    "VersioningConfiguration",
    "BucketEncryption",
    "PublicAccessBlockConfiguration",
    "OwnershipControls",
    "NotificationConfiguration",
    "LifecycleConfiguration",
    "CorsConfiguration",
}


def s3_bucket(call: ResourceCall) -> Created:
    p = call.props
    name = p.get("BucketName") or call.name(63, lowercase=True, allowed="a-z0-9-")
    s3 = call.client("s3")
    params: dict[str, Any] = {"Bucket": name}
    if call.region != "us-east-1":
        params["CreateBucketConfiguration"] = {"LocationConstraint": call.region}
    s3.create_bucket(**params)
    if p.get("VersioningConfiguration"):
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]}
        )
    if p.get("BucketEncryption"):
        rules = [
            pick(rule, "ServerSideEncryptionByDefault", "BucketKeyEnabled", rename=SSE_RENAME)
            for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if p.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"]
        )
    if p.get("OwnershipControls"):
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=p["OwnershipControls"])
    if p.get("Tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(p)})
    if p.get("LifecycleConfiguration"):
        rules = [s3_lifecycle_rule(r) for r in p["LifecycleConfiguration"].get("Rules") or []]
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    if p.get("CorsConfiguration"):
        cors = [
            pick(
                rule,
                "AllowedHeaders",
                "AllowedMethods",
                "AllowedOrigins",
                "ExposedHeaders",
                "Id",
                "MaxAge",
                rename={"ExposedHeaders": "ExposeHeaders", "Id": "ID", "MaxAge": "MaxAgeSeconds"},
            )
            for rule in p["CorsConfiguration"].get("CorsRules") or []
        ]
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": cors})
    if p.get("NotificationConfiguration"):
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration=s3_notifications(p["NotificationConfiguration"])
        )
    ignored = sorted(set(p) - S3_APPLIED)
    if ignored:
        call.note(f"not applied locally: {', '.join(ignored)}")
    return Created(
        name,
        {
            "Arn": f"arn:{call.partition}:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{call.region}.amazonaws.com",
            "DualStackDomainName": f"{name}.s3.dualstack.{call.region}.amazonaws.com",
            "WebsiteURL": f"http://{name}.s3-website-{call.region}.amazonaws.com",
        },
    )


def s3_bucket_policy(call: ResourceCall) -> Created:
    bucket = call.props["Bucket"]
    document = call.props["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else dict(document)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    # moto checks bucket policies on object reads and writes but has no request context for
    # conditions: a statement with a Condition always evaluates to DENIED (IAMPolicyStatement.
    # is_action_permitted), so CDK's enforceSSL statement would lock every object. Drop those.
    kept = [s for s in statements if not s.get("Condition")]
    for dropped in statements:
        if dropped.get("Condition"):
            call.note(f"statement {dropped.get('Sid', '')!r} with a Condition not put: moto would deny all")
    if kept:
        policy = json.dumps({**document, "Statement": kept})
        call.client("s3").put_bucket_policy(Bucket=bucket, Policy=policy)
    return Created(bucket)


def custom_s3_bucket_notifications(call: ResourceCall) -> Created:
    """CDK's bucket-notifications custom resource (how `eventBridgeEnabled` and `addEventNotification`
    reach S3): its NotificationConfiguration is already in the API's shape."""
    p = call.props
    bucket = p["BucketName"]
    config = dict(p.get("NotificationConfiguration") or {})
    s3 = call.client("s3")
    if not as_bool(p.get("Managed", True)):
        # An imported bucket keeps the notifications it already had, as CDK's handler does.
        existing = s3.get_bucket_notification_configuration(Bucket=bucket)
        for key in ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations"):
            config[key] = list(existing.get(key) or []) + list(config.get(key) or [])
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    return Created(call.logical_id)
