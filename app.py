#!/usr/bin/env python3
"""The CDK app: the only place that reads context and environment; it builds the config and the stacks."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from stacks.api_stack import ApiStack
from stacks.config import AppConfig
from stacks.eventing_stack import EventingStack
from stacks.monitoring_stack import MonitoringStack
from stacks.orders_stack import OrdersStack
from stacks.signup_stack import SignupStack
from stacks.trials_stack import TrialsStack


def build_config(app: cdk.App) -> AppConfig:
    """Reads the `cdk.json` context (overridable with `-c key=value`) into the frozen config."""
    defaults = AppConfig()

    def ctx(key: str, default: object) -> object:
        value = app.node.try_get_context(key)
        return default if value is None else value

    return AppConfig(
        app_name=str(ctx("appName", defaults.app_name)),
        sender_email=str(ctx("senderEmail", defaults.sender_email)),
        powertools_layer_arn=str(ctx("powertoolsLayerArn", defaults.powertools_layer_arn)),
        archive_retention_days=int(str(ctx("archiveRetentionDays", defaults.archive_retention_days))),
        log_retention_days=int(str(ctx("logRetentionDays", defaults.log_retention_days))),
        order_notification_email=str(ctx("orderNotificationEmail", "")) or None,
        trial_pool_size=int(str(ctx("trialPoolSize", defaults.trial_pool_size))),
        trial_duration_seconds=int(str(ctx("trialDurationSeconds", defaults.trial_duration_seconds))),
    )


def build_app(app: cdk.App | None = None) -> cdk.App:
    """Composes the stacks and the synth-time gates; tests call this to synthesize once."""
    app = app or cdk.App()
    config = build_config(app)
    # Environment-agnostic on purpose: nothing is looked up at synth, the templates are the same for
    # every account and region, and `cdk deploy` targets the account and region of the caller's profile.
    env = None
    eventing = EventingStack(app, config.stack_name("Eventing"), config=config, env=env)
    SignupStack(
        app,
        config.stack_name("Signup"),
        config=config,
        eventing=eventing.eventing,
        env=env,
    )
    orders = OrdersStack(app, config.stack_name("Orders"), config=config, eventing=eventing.eventing, env=env)
    trials = TrialsStack(app, config.stack_name("Trials"), config=config, eventing=eventing.eventing, env=env)
    ApiStack(
        app,
        config.stack_name("Api"),
        config=config,
        orders_function=orders.flow.intake.function,
        trials_function=trials.flow.intake.function,
        env=env,
    )
    # The one dashboard: every stack's constructs contribute their widgets to it (see AppDashboard).
    MonitoringStack(app, config.stack_name("Monitoring"), config=config, env=env)
    cdk.Tags.of(app).add("app", config.app_name)
    # Security and reliability gates: a finding that is not acknowledged fails the synth.
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
