"""The user-signup flow: a rule on the custom bus, the welcome-email function and a human notification."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambdas.shared.contracts import names
from stacks.constructs.dead_letter_queue import DeadLetterQueue
from stacks.constructs.event_route import EventRoute
from stacks.constructs.idempotency_table import IDEMPOTENCY_EXPIRY, IdempotencyTable
from stacks.constructs.lambda_function import AppFunction, FunctionDefaults
from stacks.constructs.patterns import event_pattern


class UserSignupFlow(Construct):
    """Owns the whole signup flow: rule, targets, function, table, identity, DLQs and alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        alarm_topic: sns.ITopic,
        sender_email: str,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.sender_identity = ses.EmailIdentity(
            self, "SenderIdentity", identity=ses.Identity.email(sender_email)
        )
        self.idempotency = IdempotencyTable(self, "Idempotency")
        self.failure_dlq = DeadLetterQueue(
            self, "WelcomeEmailFailures", purpose="welcome emails that failed", alarm_topic=alarm_topic
        )
        self.welcome_email = AppFunction(
            self,
            "WelcomeEmail",
            handler="welcome_email.handler.lambda_handler",
            description="Sends the welcome email for a user_signup event",
            service_name="welcome-email",
            defaults=defaults,
            environment={
                "SENDER_EMAIL": sender_email,
                "IDEMPOTENCY_TABLE_NAME": self.idempotency.table.table_name,
                "IDEMPOTENCY_EXPIRY_SECONDS": str(int(IDEMPOTENCY_EXPIRY.to_seconds())),
            },
            on_failure=self.failure_dlq.queue,
        )
        fn = self.welcome_email.function
        # Exactly what Powertools idempotency calls: read a record, claim, complete or release it.
        self.idempotency.table.grant(
            fn, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
        )
        self.sender_identity.grant(fn, "ses:SendEmail")  # SES v2 SendEmail (Simple content) and nothing raw

        # People subscribe to this topic for a one-line notice of each signup.
        self.notification_key = kms.Key(
            self,
            "NotificationKey",
            description="Encrypts the signup notification topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.notification_topic = sns.Topic(
            self,
            "SignupNotifications",
            display_name="New signups",
            master_key=self.notification_key,
            enforce_ssl=True,
        )

        name = events.EventField.from_path("$.detail.name")
        email = events.EventField.from_path("$.detail.email")
        self.route = (
            EventRoute(
                self,
                "UserSignupRoute",
                bus=bus,
                pattern=event_pattern(names.SIGNUP),
                description="user_signup events: send the welcome email and notify people",
                alarm_topic=alarm_topic,
            )
            .to_function(fn)
            .to_topic(
                self.notification_topic, events.RuleTargetInput.from_text(f"New signup: {name} <{email}>")
            )
        )
        self.rule = self.route.rule
        self.rule_dlq = self.route.dlq
        cdk.Validations.of(self.notification_topic).acknowledge(
            cdk.Acknowledgment(
                id="Serverless-SNSRedrivePolicy",
                reason="The topic has no subscriptions of the app's own; people add email subscriptions.",
            )
        )
