"""One place for the app's DynamoDB table defaults: on demand, encrypted, backed up, kept on delete."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct


def app_table(
    scope: Construct,
    construct_id: str,
    *,
    key: str,
    ttl: str | None = None,
    stream: dynamodb.StreamViewType | None = None,
    backups: bool = True,
    kept: bool = True,
) -> dynamodb.Table:
    """A table keyed by one string attribute, billed on demand and encrypted at rest.

    `backups` turns on point-in-time recovery (off only where copies would outlive what the table may
    hold, e.g. payment tokens); `kept` retains the table when its stack is deleted (off for tables of
    short-lived records)."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
        time_to_live_attribute=ttl,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        )
        if backups
        else None,
        stream=stream,
        removal_policy=RemovalPolicy.RETAIN if kept else RemovalPolicy.DESTROY,
    )
