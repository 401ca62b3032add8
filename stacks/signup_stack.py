"""The signup stack: the user-signup welcome-email flow on the shared bus."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from stacks.config import AppConfig
from stacks.constructs.event_bus import Eventing
from stacks.constructs.lambda_function import function_defaults
from stacks.constructs.rule_alarms import bare_rule_name
from stacks.constructs.user_signup import UserSignupFlow
from stacks.outputs import add_outputs


class SignupStack(Stack):
    """Composes the signup flow with the bus and alarm topic of the eventing stack."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, eventing: Eventing, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, description=f"{config.app_name}: user-signup flow", **kwargs)
        self.flow = UserSignupFlow(
            self,
            "UserSignup",
            bus=eventing.bus,
            alarm_topic=eventing.alarm_topic,
            sender_email=config.sender_email,
            defaults=function_defaults(config),
        )
        flow = self.flow
        outputs = {
            "WelcomeEmailFunctionName": (flow.welcome_email.function.function_name, "Welcome-email Lambda"),
            "WelcomeEmailLogGroupName": (flow.welcome_email.log_group.log_group_name, "Its log group"),
            "WelcomeEmailFailureDlqUrl": (flow.failure_dlq.queue.queue_url, "Failed welcome emails"),
            "SignupRuleDlqUrl": (flow.rule_dlq.queue.queue_url, "Signup events not delivered"),
            "SignupRuleName": (
                bare_rule_name(flow.rule, on_custom_bus=True),
                "The user_signup rule on the custom bus",
            ),
            "SignupNotificationTopicArn": (flow.notification_topic.topic_arn, "Subscribe for signups"),
            "IdempotencyTableName": (flow.idempotency.table.table_name, "Idempotency records"),
            "SenderEmail": (config.sender_email, "The SES identity emails are sent from"),
        }
        add_outputs(self, outputs)
