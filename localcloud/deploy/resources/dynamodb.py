"""DynamoDB handlers: tables and global tables (one local table), with TTL and PITR."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localcloud.deploy.resources.common import (
    Created,
    DeployError,
    ResourceCall,
    as_bool,
    pick,
    tag_list,
)


def throughput(value: Mapping[str, Any] | None) -> dict[str, int] | None:
    if not value:
        return None
    return {k: int(v) for k, v in value.items()}


def dynamodb_index(index: Mapping[str, Any], on_demand: bool) -> dict[str, Any]:
    # The API has no ContributorInsights/WarmThroughput per index, and no throughput when on demand.
    out = pick(index, "IndexName", "KeySchema", "Projection", "OnDemandThroughput")
    if not on_demand:
        out["ProvisionedThroughput"] = throughput(index.get("ProvisionedThroughput")) or {
            "ReadCapacityUnits": 5,
            "WriteCapacityUnits": 5,
        }
    return out


def create_table(call: ResourceCall, name: str, p: Mapping[str, Any], extra: Mapping[str, Any]) -> Created:
    """Shared by Table and GlobalTable: create_table, then TTL and PITR, which create_table cannot set."""
    on_demand = p.get("BillingMode") == "PAY_PER_REQUEST"
    params: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": p.get("BillingMode", "PROVISIONED"),
        **pick(p, "TableClass", "DeletionProtectionEnabled", "OnDemandThroughput"),
        **extra,
    }
    if not on_demand:
        params["ProvisionedThroughput"] = throughput(p.get("ProvisionedThroughput")) or {
            "ReadCapacityUnits": 5,
            "WriteCapacityUnits": 5,
        }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if p.get(key):
            params[key] = [dynamodb_index(i, on_demand) for i in p[key]]
    stream = p.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = p.get("SSESpecification")
    if sse:
        params["SSESpecification"] = {
            "Enabled": as_bool(sse.get("SSEEnabled", False)),
            **pick(sse, "SSEType", "KMSMasterKeyId"),
        }
    dynamodb = call.client("dynamodb")
    dynamodb.create_table(**params)
    ttl = p.get("TimeToLiveSpecification")
    if ttl and ttl.get("AttributeName"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"],
                "Enabled": as_bool(ttl["Enabled"]),
            },
        )
    pitr = p.get("PointInTimeRecoverySpecification")
    if pitr and as_bool(pitr.get("PointInTimeRecoveryEnabled", False)):
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True,
                **pick(pitr, "RecoveryPeriodInDays"),
            },
        )
    for ignored in ("KinesisStreamSpecification", "ContributorInsightsSpecification", "ResourcePolicy"):
        if p.get(ignored):
            call.note(f"{ignored} is not applied locally")
    table = dynamodb.describe_table(TableName=name)["Table"]
    attributes = {"Arn": table["TableArn"], "TableId": table.get("TableId", "")}
    if table.get("LatestStreamArn"):
        attributes["StreamArn"] = table["LatestStreamArn"]
    return Created(name, attributes)


def dynamodb_table(call: ResourceCall) -> Created:
    p = call.props
    if p.get("ImportSourceSpecification"):
        raise DeployError("ImportSourceSpecification (import from S3) is not supported locally")
    extra: dict[str, Any] = {}
    if p.get("Tags"):
        extra["Tags"] = tag_list(p)
    return create_table(call, p.get("TableName") or call.name(255), p, extra)


def dynamodb_global_table(call: ResourceCall) -> Created:
    """CDK's TableV2: one local table, with this region's replica settings (or the first replica's)."""
    p = dict(call.props)
    replicas = p.get("Replicas") or []
    replica = next((r for r in replicas if r.get("Region") == call.region), replicas[0] if replicas else {})
    for key in ("PointInTimeRecoverySpecification", "DeletionProtectionEnabled", "TableClass"):
        if replica.get(key) is not None:
            p[key] = replica[key]
    if p.get("BillingMode") != "PAY_PER_REQUEST":
        write = (p.get("WriteProvisionedThroughputSettings") or {}).get(
            "WriteCapacityAutoScalingSettings", {}
        )
        read = (replica.get("ReadProvisionedThroughputSettings") or {}).get("ReadCapacityUnits")
        p["ProvisionedThroughput"] = {
            "ReadCapacityUnits": int(read or 5),
            "WriteCapacityUnits": int(write.get("MinCapacity", 5)),
        }
    p["GlobalSecondaryIndexes"] = [
        {k: v for k, v in index.items() if not k.startswith("Write")}
        for index in p.get("GlobalSecondaryIndexes") or []
    ]
    extra: dict[str, Any] = {}
    if replica.get("Tags"):
        extra["Tags"] = tag_list(replica)
    if len(replicas) > 1:
        call.note("one local table stands for every replica")
    return create_table(call, p.get("TableName") or call.name(255), p, extra)
