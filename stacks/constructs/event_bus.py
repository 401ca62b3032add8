"""The app's custom event bus: account-only policy, archive for replay, forwarding from the default bus."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.constructs.event_route import DefaultBusForwarder


class Eventing(Construct):
    """Everything long-lived that the flows share: the bus, its archive, and the operators' alarm topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        app_name: str,
        forwarded_sources: tuple[str, ...],
        archive_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        account = Stack.of(self).account

        # Alarms publish to an encrypted topic; CloudWatch needs the key to do so.
        self.alarm_key = kms.Key(
            self,
            "AlarmKey",
            description=f"{app_name}: encrypts the operators' alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.alarm_key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.alarm_topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{app_name} operator alarms",
            master_key=self.alarm_key,
            enforce_ssl=True,
        )

        self.bus = events.EventBus(self, "Bus", event_bus_name=f"{app_name}-bus")
        self.bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyThisAccountPublishes",
                principals=[iam.AccountRootPrincipal()],
                actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn],
            )
        )
        self.archive = self.bus.archive(
            "Archive",
            description=f"Every event on {app_name}-bus, kept for replay",
            event_pattern=events.EventPattern(account=[account]),
            retention=Duration.days(archive_retention_days),
        )

        # The tutorial publishes to the default bus: forward its source, and only it, to the custom bus.
        # The app's own sources are put on the custom bus by their producers; forwarding them too would
        # let anyone who may write to the default bus speak for the app's services.
        self.forwarding = DefaultBusForwarder(
            self,
            "ForwardFromDefaultBus",
            bus=self.bus,
            pattern=events.EventPattern(source=list(forwarded_sources)),
            description="Forwards the tutorial's source from the default bus to the custom bus",
            alarm_topic=self.alarm_topic,
        )
