"""What a construct shows on the app's dashboard: the Monitored protocol, its sections, widget shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import IConstruct

# The dashboard's sections, top to bottom: the front door first, the parked messages last.
API = "API"
PAYMENT = "Payment queue"
WORKFLOWS = "Workflows"
FUNCTIONS = "Functions"
RULES = "Rules"
DLQS = "Dead-letter queues"
SECTIONS: tuple[str, ...] = (API, PAYMENT, WORKFLOWS, FUNCTIONS, RULES, DLQS)

FIVE_MINUTES = Duration.minutes(5)
GRAPH_WIDTH = 8
GRAPH_HEIGHT = 6


@runtime_checkable
class Monitored(Protocol):
    """A construct that owns monitored resources: the dashboard finds it in the tree and adds its widgets.

    It builds them from the same metrics its alarms watch, so a chart and its alarm cannot disagree.
    """

    @property
    def dashboard_section(self) -> str:
        """One of SECTIONS."""
        ...

    def widgets(self) -> list[cloudwatch.IWidget]:
        """This construct's widgets, built on demand (at synth, once every construct exists)."""
        ...


def monitored(scope: IConstruct) -> list[Monitored]:
    """Every Monitored construct under scope, in tree order (a stable, readable layout)."""
    return [c for c in scope.node.find_all() if isinstance(c, Monitored)]


def title(construct: IConstruct) -> str:
    """A widget title: where the construct sits in its stack (e.g. `Orders/Accounting/Route`).

    Construct paths, not resource names: names are generated at deploy time and mean nothing to a reader.
    """
    stack = Stack.of(construct)
    return f"{stack.node.id}/{construct.node.path.removeprefix(stack.node.path + '/')}"


def graph(
    heading: str,
    *,
    left: Sequence[cloudwatch.IMetric],
    right: Sequence[cloudwatch.IMetric] = (),
    left_annotations: Sequence[cloudwatch.HorizontalAnnotation] = (),
) -> cloudwatch.GraphWidget:
    """The dashboard's usual chart: counts on the left axis, durations or ages on the right."""
    return cloudwatch.GraphWidget(
        title=heading,
        left=list(left),
        right=list(right),
        left_annotations=list(left_annotations) or None,
        width=GRAPH_WIDTH,
        height=GRAPH_HEIGHT,
        left_y_axis=cloudwatch.YAxisProps(min=0, show_units=False),
        right_y_axis=cloudwatch.YAxisProps(min=0) if right else None,
    )


def labelled(metric: cloudwatch.IMetric, label: str) -> cloudwatch.IMetric:
    """The metric with a short legend label (the alarm's metric object itself stays as it is)."""
    if isinstance(metric, cloudwatch.Metric):
        return metric.with_(label=label)
    return metric
