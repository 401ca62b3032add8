"""The monitoring stack: the app's one dashboard, deployed after the stacks whose resources it names."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from stacks.config import AppConfig
from stacks.constructs.dashboard import AppDashboard
from stacks.outputs import add_outputs


class MonitoringStack(Stack):
    """Only reads the other stacks (metric dimensions), and nothing reads it: it holds no data, and
    can be changed, redeployed or destroyed (see the README on removing a monitored resource)
    without touching a flow."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=f"{config.app_name}: dashboard", **kwargs)
        # Named after the app (one per deployment), so `aws cloudwatch get-dashboard` needs no lookup.
        self.dashboard = AppDashboard(self, "Dashboard", dashboard_name=config.app_name)
        outputs = {
            "DashboardName": (self.dashboard.dashboard_name, "The app's CloudWatch dashboard"),
            "DashboardUrl": (self.dashboard.console_url, "The dashboard in the CloudWatch console"),
        }
        add_outputs(self, outputs)
