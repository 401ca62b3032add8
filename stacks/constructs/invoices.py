"""Invoices: the bucket the fulfillment workflow writes to, and the invoice's own event to the customer."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.constructs.event_route import DefaultBusForwarder, EventRoute
from stacks.constructs.pinned import pin


class Invoices(Construct):
    """A versioned, private bucket whose Object Created events reach the custom bus."""

    def __init__(
        self, scope: Construct, construct_id: str, *, bus: events.IEventBus, alarm_topic: sns.ITopic
    ) -> None:
        super().__init__(scope, construct_id)
        self._bus = bus
        self._alarm_topic = alarm_topic
        # The routes stay where they were (beside this construct), so their DLQs keep their ids.
        self._routes_scope = scope
        self.bucket = s3.Bucket(
            self,
            "Invoices",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        pin(self.bucket, "OrdersInvoices58DF65C7")
        # S3 → EventBridge set on the bucket itself: CDK's `event_bridge_enabled` would add a custom
        # resource (a Lambda) to do what CloudFormation does natively.
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )
        cdk.Validations.of(self.bucket).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-S1",
                reason="Invoices are written only by the fulfillment workflow, whose every call is in its "
                "execution history and CloudTrail; server access logs would add a bucket and no insight.",
            )
        )
        # The invoice's own event: S3 notifies the default bus; forward this bucket's to the custom bus.
        self.created = events.EventPattern(
            source=["aws.s3"],
            detail_type=["Object Created"],
            detail={"bucket": {"name": [self.bucket.bucket_name]}},
        )
        self.forwarding = DefaultBusForwarder(
            scope,
            "ForwardInvoiceEvents",
            bus=bus,
            pattern=self.created,
            description="Forwards the invoice bucket's Object Created events from the default bus",
            alarm_topic=alarm_topic,
        )

    def notify(self, topic: sns.ITopic) -> EventRoute:
        """A new invoice in S3 (written once per order): tell the customer, through the topic."""
        key_path = events.EventField.from_path("$.detail.object.key")
        return EventRoute(
            self._routes_scope,
            "InvoiceCreatedRoute",
            bus=self._bus,
            pattern=self.created,
            description="A new invoice in S3: tell the customer",
            alarm_topic=self._alarm_topic,
            replays=False,  # the customer was told when the invoice was written; a replay writes none
        ).to_topic(topic, events.RuleTargetInput.from_text(f"Invoice ready: {key_path}"))
