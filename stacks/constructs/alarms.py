"""The app's usual alarm: it fires on the first occurrence of what it watches and tells the operators."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from constructs import Construct


def alarm_on_any(
    scope: Construct,
    construct_id: str,
    *,
    metric: cloudwatch.IMetric,
    description: str,
    alarm_topic: sns.ITopic,
) -> cloudwatch.Alarm:
    """ALARM as soon as `metric` reaches 1 in one period (no data is fine), notifying `alarm_topic`."""
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_description=description,
        metric=metric,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
    return alarm


FIVE_MINUTES = Duration.minutes(5)


def business_metric(
    *, namespace: str, name: str, service: str, period: Duration = FIVE_MINUTES
) -> cloudwatch.Metric:
    """A count a function emits as EMF (Powertools Metrics: namespace = app, dimension `service`)."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map={"service": service},
        statistic="Sum",
        period=period,
    )
