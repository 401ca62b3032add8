"""Order notifications: an encrypted topic, a service subscriber (SQS) and people (email).

Order outcomes reach the topic as one readable line each; the invoice's own event is routed to it
by Invoices.notify. Moved here from OrderFlow: the stateful resources keep their logical ids.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambdas.shared.contracts import names
from stacks.constructs.dead_letter_queue import DeadLetterQueue
from stacks.constructs.event_route import EventRoute
from stacks.constructs.patterns import event_pattern
from stacks.constructs.pinned import pin


class OrderNotifications(Construct):
    """The topic and its subscribers, and the rule that sends it every order outcome."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        alarm_topic: sns.ITopic,
        notification_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(
            self,
            "NotificationKey",
            description="Encrypts the order notification topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        pin(key, "OrdersNotificationKeyFC9A310B")
        # EventBridge publishes with a role (EventRoute.to_topic): no service principal on this key.
        self.topic = sns.Topic(
            self, "Notifications", display_name="Order notifications", master_key=key, enforce_ssl=True
        )
        pin(self.topic, "OrdersNotifications6E06B424")
        self.subscriber_dlq = DeadLetterQueue(
            self,
            "SubscriberDlq",
            purpose="order notifications the service subscriber missed",
            alarm_topic=alarm_topic,
        )
        pin(self.subscriber_dlq.queue, "OrdersSubscriberDlqQueueD967FED5")
        self.subscriber_queue = sqs.Queue(
            self,
            "NotificationSubscriber",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.subscriber_dlq.queue, max_receive_count=5),
        )
        pin(self.subscriber_queue, "OrdersNotificationSubscriberB5859433")
        self.topic.add_subscription(
            subscriptions.SqsSubscription(
                self.subscriber_queue, raw_message_delivery=True, dead_letter_queue=self.subscriber_dlq.queue
            )
        )
        if notification_email:
            self.topic.add_subscription(
                subscriptions.EmailSubscription(
                    notification_email, dead_letter_queue=self.subscriber_dlq.queue
                )
            )
        order_id = events.EventField.from_path("$.detail.orderId")
        outcome = events.EventField.from_path("$.detail-type")
        # The route stays beside this construct, so its DLQ keeps its id.
        self.route = EventRoute(
            scope,
            "NotifyRoute",
            bus=bus,
            pattern=event_pattern(names.ORDER_OUTCOMES),
            description="Order outcomes, as one readable line, to the notification topic",
            alarm_topic=alarm_topic,
            replays=False,  # subscribers heard of the outcome when it happened; a replay tells them nothing
        ).to_topic(self.topic, events.RuleTargetInput.from_text(f"{outcome}: order {order_id}"))
