"""A rule on a bus with the failure path every target shares: a retry policy, a DLQ and alarms."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.constructs.dead_letter_queue import DeadLetterQueue
from stacks.constructs.rule_alarms import RuleAlarms

# EventBridge retries delivery for up to an hour, then parks the event in the rule's DLQ.
TARGET_RETRY_ATTEMPTS = 8
TARGET_MAX_EVENT_AGE = Duration.hours(1)
# EventBridge adds `replay-name` to each event it replays from an archive; live events have none.
LIVE_ONLY = {"replay-name": [{"exists": False}]}


class EventRoute(Construct):
    """One rule, its targets, and what happens when a target cannot be reached."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        pattern: events.EventPattern,
        description: str,
        alarm_topic: sns.ITopic,
        replays: bool = True,
    ) -> None:
        """`replays=False`: the rule ignores events replayed from the archive, for a target whose effect
        is news of the moment (a notification, a live status) and that cannot tell a repeat."""
        super().__init__(scope, construct_id)
        self.dlq = DeadLetterQueue(
            self, "Dlq", purpose=f"events of rule {construct_id}", alarm_topic=alarm_topic
        )
        self.rule = events.Rule(self, "Rule", description=description, event_bus=bus, event_pattern=pattern)
        if not replays:
            # CDK's EventPattern has no field for it; the override merges into whatever pattern is set.
            cfn_rule = self.rule.node.default_child
            assert isinstance(cfn_rule, events.CfnRule)
            for field, value in LIVE_ONLY.items():
                cfn_rule.add_property_override(f"EventPattern.{field}", value)
        RuleAlarms(self, "Alarms", rule=self.rule, event_bus_name=bus.event_bus_name, alarm_topic=alarm_topic)

    @property
    def delivery(self) -> dict[str, Any]:
        """The retry policy and DLQ every target of this rule gets."""
        return {
            "dead_letter_queue": self.dlq.queue,
            "retry_attempts": TARGET_RETRY_ATTEMPTS,
            "max_event_age": TARGET_MAX_EVENT_AGE,
        }

    def to_function(self, function: lambda_.IFunction) -> EventRoute:
        return self.to(targets.LambdaFunction(function, **self.delivery))

    def to_topic(self, topic: sns.ITopic, message: events.RuleTargetInput) -> EventRoute:
        # Published with a role of this stack, not as the events.amazonaws.com service principal: the
        # role's grant covers the topic's key too, so neither the topic policy nor the key policy names
        # a service principal. (KMS cannot condition that principal here: EventBridge-to-encrypted-topic
        # calls carry no aws:SourceArn/aws:SourceAccount, so such conditions would drop every event.)
        cdk.Validations.of(self.rule).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                reason="Publishing to an encrypted topic needs GenerateDataKey* on the topic's one key "
                "(granted by the topic's grant_publish, on that key's ARN only).",
            )
        )
        return self.to(targets.SnsTopic(topic, message=message, authorize_using_role=True, **self.delivery))

    def with_raw_pattern(self, pattern: dict[str, Any]) -> EventRoute:
        """A pattern CDK's EventPattern cannot express (e.g. a top-level `$or`), set as is."""
        cfn_rule = self.rule.node.default_child
        assert isinstance(cfn_rule, events.CfnRule)
        cfn_rule.event_pattern = pattern
        return self

    def to(self, target: events.IRuleTarget) -> EventRoute:
        """Any other target; build it with `**route.delivery` so it gets the same failure path."""
        self.rule.add_target(target)
        return self


class DefaultBusForwarder(EventRoute):
    """A rule on the default bus that forwards matching events to the custom bus (AWS services and
    the tutorial publish to the default bus), with the same retry policy, DLQ and alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        pattern: events.EventPattern,
        description: str,
        alarm_topic: sns.ITopic,
    ) -> None:
        default_bus = events.EventBus.from_event_bus_name(scope, f"{construct_id}DefaultBus", "default")
        super().__init__(
            scope,
            construct_id,
            bus=default_bus,
            pattern=pattern,
            description=description,
            alarm_topic=alarm_topic,
        )
        self.to(targets.EventBus(bus, dead_letter_queue=self.dlq.queue))
        # CDK's EventBus target takes no retry settings; EventBridge does, so state them explicitly.
        cfn_rule = self.rule.node.default_child
        assert isinstance(cfn_rule, events.CfnRule)
        cfn_rule.add_property_override(
            "Targets.0.RetryPolicy",
            {
                "MaximumRetryAttempts": TARGET_RETRY_ATTEMPTS,
                "MaximumEventAgeInSeconds": int(TARGET_MAX_EVENT_AGE.to_seconds()),
            },
        )
