"""Alarms on an EventBridge rule's delivery failures: the signal that targets are not being reached."""

from __future__ import annotations

from aws_cdk import Duration, Fn
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.constructs.alarms import alarm_on_any
from stacks.constructs.monitoring import RULES, graph, title

# CloudWatch spells it `Dlq` (names are case-sensitive): `InvocationsSentToDLQ` is a metric nobody emits.
RULE_FAILURE_METRICS = ("FailedInvocations", "InvocationsSentToDlq")
# What the rule's dashboard widget adds: events it matched and ran, and events lost on the way to its DLQ.
RULE_MATCH_METRICS = ("MatchedEvents", "TriggeredRules")
RULE_DLQ_FAILURE_METRIC = "InvocationsFailedToBeSentToDlq"


def bare_rule_name(rule: events.IRule, *, on_custom_bus: bool) -> str:
    """The rule's own name: on a custom bus CloudFormation's Ref gives `bus|rule`, metrics use `rule`."""
    return Fn.select(1, Fn.split("|", rule.rule_name)) if on_custom_bus else rule.rule_name


class RuleAlarms(Construct):
    """One alarm per failure metric of the rule, each notifying the operators' topic; the rule's
    dashboard widget shows the same metrics next to what the rule matched."""

    dashboard_section = RULES

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rule: events.IRule,
        event_bus_name: str,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rule = rule
        # Rules on the default bus are named plainly and measured by RuleName alone.
        on_custom_bus = event_bus_name != "default"
        self.dimensions = {"RuleName": bare_rule_name(rule, on_custom_bus=on_custom_bus)}
        if on_custom_bus:
            self.dimensions["EventBusName"] = event_bus_name
        self.alarms: list[cloudwatch.Alarm] = []
        for metric_name in RULE_FAILURE_METRICS:
            alarm = alarm_on_any(
                self,
                metric_name,
                description=f"EventBridge {metric_name} on {construct_id}: a target was not reached.",
                metric=self.metric(metric_name),
                alarm_topic=alarm_topic,
            )
            self.alarms.append(alarm)

    def metric(self, metric_name: str) -> cloudwatch.Metric:
        """One AWS/Events metric of this rule, summed over five minutes."""
        return cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name=metric_name,
            dimensions_map=self.dimensions,
            statistic="Sum",
            period=Duration.minutes(5),
        )

    def widgets(self) -> list[cloudwatch.IWidget]:
        failures = [alarm.metric for alarm in self.alarms] + [self.metric(RULE_DLQ_FAILURE_METRIC)]
        return [
            graph(
                title(self.rule),
                left=[self.metric(name) for name in RULE_MATCH_METRICS],
                right=failures,
            )
        ]
