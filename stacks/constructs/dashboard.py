"""The app's one CloudWatch dashboard, made of the widgets every Monitored construct of the app offers."""

from __future__ import annotations

import jsii
from aws_cdk import Aspects, Aws, IAspect, Stage
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct, IConstruct

from stacks.constructs.monitoring import SECTIONS, Monitored, monitored

SECTION_HEADER_HEIGHT = 1


class AppDashboard(Construct):
    """One dashboard for the whole app (every stack of its stage), sections in SECTIONS order.

    It holds no list of resources: at synth it walks the construct tree and asks every Monitored
    construct for its widgets, so a new rule, queue, function or workflow (in any stack, even one
    added after this construct) brings its own widgets and nobody edits this file.
    """

    def __init__(self, scope: Construct, construct_id: str, *, dashboard_name: str) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        self.sections: dict[str, list[Monitored]] = {}
        # Collected when the app is synthesized, not now: the stacks built after this one exist by then.
        Aspects.of(self).add(_Collect(self))

    @property
    def dashboard_name(self) -> str:
        return self.dashboard.dashboard_name

    @property
    def console_url(self) -> str:
        """The dashboard in the CloudWatch console of the region it is deployed to."""
        return (
            f"https://{Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}"
            f"#dashboards/dashboard/{self.dashboard_name}"
        )

    def collect(self) -> None:
        """Adds each section's header and widgets (once), from every Monitored construct of the stage."""
        if self.sections:
            return
        owners = monitored(Stage.of(self) or self.node.root)
        for owner in owners:
            section = owner.dashboard_section
            if section not in SECTIONS:
                raise ValueError(f"{owner}: unknown dashboard section {section!r}; one of {SECTIONS}")
            self.sections.setdefault(section, []).append(owner)
        for section in SECTIONS:
            widgets = [widget for owner in self.sections.get(section, []) for widget in owner.widgets()]
            if not widgets:
                continue
            self.dashboard.add_widgets(
                cloudwatch.TextWidget(markdown=f"## {section}", width=24, height=SECTION_HEADER_HEIGHT)
            )
            # One row per section: CloudWatch's 24-column grid wraps it.
            self.dashboard.add_widgets(*widgets)


@jsii.implements(IAspect)
class _Collect:
    """Runs AppDashboard.collect once, when aspects run: after construction, before references resolve."""

    def __init__(self, dashboard: AppDashboard) -> None:
        self._dashboard = dashboard

    def visit(self, node: IConstruct) -> None:
        if node.node.path == self._dashboard.node.path:
            self._dashboard.collect()
