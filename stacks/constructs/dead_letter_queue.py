"""A dead-letter queue with the alarm that tells an operator something is parked in it."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.alarms import alarm_on_any
from stacks.constructs.monitoring import DLQS, labelled, title

# Longer than any source queue's retention, so a parked message outlives what it came from.
DLQ_RETENTION = Duration.days(14)


class DeadLetterQueue(Construct):
    """An encrypted, TLS-only standard queue kept 14 days, alarmed as soon as one message lands; on the
    dashboard, its depth (the alarm's metric) with the trend."""

    dashboard_section = DLQS

    def __init__(self, scope: Construct, construct_id: str, *, purpose: str, alarm_topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        self.purpose = purpose
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
        )
        self.alarm = alarm_on_any(
            self,
            "DepthAlarm",
            description=f"Messages are parked in the DLQ for {purpose}: inspect and redrive them.",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            alarm_topic=alarm_topic,
        )
        cdk.Validations.of(self.queue).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SQS3",
                reason=f"This queue is itself the dead-letter queue for {purpose}; "
                "a DLQ of a DLQ would have no reader.",
            )
        )
        cdk.Validations.of(self.queue).acknowledge(
            cdk.Acknowledgment(
                id="Serverless-SQSRedrivePolicy",
                reason=f"This queue is itself the dead-letter queue for {purpose}.",
            )
        )

    def widgets(self) -> list[cloudwatch.IWidget]:
        return [
            cloudwatch.SingleValueWidget(
                title=title(self),
                metrics=[labelled(self.alarm.metric, self.purpose)],
                sparkline=True,
                width=6,
                height=4,
            )
        ]
