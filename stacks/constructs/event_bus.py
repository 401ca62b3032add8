"""The app's custom event bus: its sources reserved to their producers, archive, forwarding."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.constructs.event_route import DefaultBusForwarder


def only_producers_put(
    source: str,
    stacks: Sequence[str],
    *,
    bus_arn: str,
    partition: str,
    account: str,
    also: Sequence[str] = (),
) -> iam.PolicyStatement:
    """Denies putting `source` on the bus to every principal but the roles of the stacks producing it.

    The account-wide allow stays, so `myapp.userservice` (the tutorial's `aws events put-events`)
    remains open to the account's principals; the app's own sources do not: a forged `OrderCompleted`
    or `TrialExpired` put by any other user or role of the account is refused at the bus.

    Producers are matched by name pattern, not by ARN: the eventing stack deploys first, so it cannot
    reference the flow stacks' roles (a cross-stack cycle). CloudFormation names each role it
    generates `<StackName>-<LogicalId>-<suffix>` (the app sets no RoleName; an infra test keeps it so),
    so `role/<StackName>-*` matches the roles of that stack and no other. `aws:PrincipalArn` of a
    Lambda function, a state machine or a pipe is its role's ARN. `events:source` holds the sources of
    all entries of a request, so ForAnyValue denies the request if any entry carries this source.
    `also` names other principals by ARN: the redrive role, which returns parked events as they were.
    """
    return iam.PolicyStatement(
        sid="OnlyProducersPut" + re.sub(r"[^A-Za-z0-9]", "", source.title()),
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=["events:PutEvents"],
        resources=[bus_arn],
        conditions={
            "ForAnyValue:StringEquals": {"events:source": [source]},
            "ArnNotLike": {
                "aws:PrincipalArn": [
                    *(f"arn:{partition}:iam::{account}:role/{name}-*" for name in stacks),
                    *also,
                ]
            },
        },
    )


class Eventing(Construct):
    """Everything long-lived that the flows share: the bus, its archive, and the operators' alarm topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        app_name: str,
        forwarded_sources: tuple[str, ...],
        producer_stacks: Mapping[str, Sequence[str]],
        archive_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        account = stack.account

        # Alarms publish to an encrypted topic; CloudWatch needs the key to do so.
        self.alarm_key = kms.Key(
            self,
            "AlarmKey",
            description=f"{app_name}: encrypts the operators' alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Only for alarms of this account (no confused deputy: another account's alarm cannot use it).
        cloudwatch_here = iam.PrincipalWithConditions(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"),
            {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                },
            },
        )
        self.alarm_key.grant(cloudwatch_here, "kms:Decrypt", "kms:GenerateDataKey*")
        self.alarm_topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{app_name} operator alarms",
            master_key=self.alarm_key,
            enforce_ssl=True,
        )

        # What `make redrive` puts rule DLQ events back with: events of the app's own sources may be put
        # only by their producers, and by this role, which an operator of the account assumes to return
        # them as they were. Found by its path (the tool lists roles under it), never by a fixed name.
        self.redrive_role = iam.Role(
            self,
            "RedriveRole",
            assumed_by=iam.AccountRootPrincipal(),
            path=f"/{app_name}/redrive/",
            description=f"{app_name}: puts events parked in rule DLQs back on their bus (make redrive)",
        )
        bus_name = f"{app_name}-bus"
        self.bus = events.EventBus(self, "Bus", event_bus_name=bus_name)
        # The whole policy on the bus itself, not one AWS::Events::EventBusPolicy per statement: it is
        # created with the bus and replaced as one document, so the allow never exists without the
        # denies. The ARN is spelled out because a resource cannot GetAtt itself.
        bus_arn = stack.format_arn(service="events", resource="event-bus", resource_name=bus_name)
        self.bus_policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="OnlyThisAccountPublishes",
                    principals=[iam.AccountRootPrincipal()],
                    actions=["events:PutEvents"],
                    resources=[bus_arn],
                ),
                *(
                    only_producers_put(
                        source,
                        stacks,
                        bus_arn=bus_arn,
                        partition=stack.partition,
                        account=account,
                        also=[self.redrive_role.role_arn],
                    )
                    for source, stacks in producer_stacks.items()
                ),
            ]
        )
        cfn_bus = self.bus.node.default_child
        assert isinstance(cfn_bus, events.CfnEventBus)
        cfn_bus.policy = self.bus_policy
        self.bus.grant_put_events_to(self.redrive_role)
        # The tutorial's events parked by the default bus's forwarding rule go back to the default bus.
        events.EventBus.from_event_bus_name(self, "DefaultBus", "default").grant_put_events_to(
            self.redrive_role
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
