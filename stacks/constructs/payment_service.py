"""The payment service: a slower consumer draining its queue at its own pace, and the refund function.

The workflow sends `{taskToken, orderId, amountCents, currency, paymentRef}`; the service reads the
token from the PaymentTokens table, charges, records the charge conditionally, publishes
PaymentCharged and answers the task token. A message that cannot be answered is failed on its last
receive and parked in the DLQ; an unanswered payment (the oldest message older than half the
heartbeat) alarms.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.alarms import alarm_on_any, business_metric
from stacks.constructs.dead_letter_queue import DeadLetterQueue
from stacks.constructs.lambda_function import AppFunction, FunctionDefaults
from stacks.constructs.monitoring import FIVE_MINUTES, PAYMENT, graph, labelled, title
from stacks.constructs.pinned import pin

PAYMENT_FUNCTION_TIMEOUT = Duration.seconds(30)
PAYMENT_CONCURRENCY = 2  # the provider's rate limit: a burst of orders queues up instead of overrunning it
# Receives before SQS parks a message. A throttled or failed receive counts too; with the mapping's
# maximum concurrency equal to the reserved concurrency throttles are rare, and 10 receives leave
# room for them next to real failures (each receive waits the 180-s visibility timeout).
PAYMENT_MAX_RECEIVES = 10
PAYMENT_LIMIT_CENTS = 100_000


class PaymentService(Construct):
    """Queue, DLQ, the charge function (SQS source) and the refund function (invoked by compensation).
    On the dashboard: the queue's oldest message against the unanswered-payments threshold, and its depth."""

    dashboard_section = PAYMENT

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        payments: dynamodb.ITable,
        payment_tokens: dynamodb.ITable,
        bus: events.IEventBus,
        alarm_topic: sns.ITopic,
        defaults: FunctionDefaults,
        heartbeat: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dlq = DeadLetterQueue(self, "PaymentDlq", purpose="payment requests", alarm_topic=alarm_topic)
        pin(self.dlq.queue, "OrdersPaymentDlqQueueD20072AE")
        self.queue = sqs.Queue(
            self,
            "PaymentQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(int(PAYMENT_FUNCTION_TIMEOUT.to_seconds()) * 6),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dlq.queue, max_receive_count=PAYMENT_MAX_RECEIVES
            ),
        )
        pin(self.queue, "OrdersPaymentQueueB0D6AC96")
        common = {
            "PAYMENTS_TABLE_NAME": payments.table_name,
            "EVENT_BUS_NAME": bus.event_bus_name,
            "PAYMENT_LIMIT_CENTS": str(PAYMENT_LIMIT_CENTS),
        }
        self.charge = AppFunction(
            self,
            "Payment",
            handler="payment.handler.lambda_handler",
            description="Charges orders through the payment provider and answers the workflow's task token",
            service_name="payment",
            timeout=PAYMENT_FUNCTION_TIMEOUT,
            reserved_concurrency=PAYMENT_CONCURRENCY,
            environment={
                **common,
                "PAYMENT_TOKENS_TABLE_NAME": payment_tokens.table_name,
                "PAYMENT_MAX_RECEIVES": str(PAYMENT_MAX_RECEIVES),
            },
            defaults=defaults,
        )
        pin(self.charge.log_group, "OrdersPaymentLogs60598E79")  # a named log group: keep, not replace
        cdk.Validations.of(self.charge.function).acknowledge(
            cdk.Acknowledgment(
                id="Serverless-LambdaEventSourceMappingDestination",
                reason="An SQS source redrives failed messages to the queue's own DLQ after "
                f"{PAYMENT_MAX_RECEIVES} receives; mapping destinations exist for stream sources only.",
            )
        )
        self.charge.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=10,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
                # No more batches in flight than the function may run: beyond its reserved concurrency
                # Lambda's pollers are throttled, and every throttled receive counts toward the DLQ.
                max_concurrency=PAYMENT_CONCURRENCY,
            )
        )
        payments.grant(self.charge.function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        payment_tokens.grant(self.charge.function, "dynamodb:GetItem", "dynamodb:DeleteItem")
        bus.grant_put_events_to(self.charge.function)

        self.refund = AppFunction(
            self,
            "Refund",
            handler="payment.refund.lambda_handler",
            description="Refunds an order's charge once, or leaves a tombstone that refunds a late charge",
            service_name="payment-refund",
            environment=common,
            defaults=defaults,
        )
        pin(self.refund.log_group, "OrdersRefundLogsAD6481F7")
        payments.grant(self.refund.function, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        bus.grant_put_events_to(self.refund.function)

        # Unanswered payments: a message waiting longer than half the heartbeat will soon fail its order.
        self.unanswered_alarm = cloudwatch.Alarm(
            self,
            "UnansweredPayments",
            alarm_description="Payment requests wait in the queue for more than half the workflow's "
            "heartbeat: the payment service is down or throttled, and orders will fail.",
            metric=self.queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=int(heartbeat.to_seconds()) // 2,
            evaluation_periods=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.unanswered_alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
        # Poison messages: invalid ones fail their order at once, failing ones on their last receive;
        # either way an operator should see why (the payment function's log has the reason).
        self.poison_alarm = alarm_on_any(
            self,
            "PoisonPayments",
            description="The payment service met messages it could not process (invalid, or failing "
            "on every receive): their orders failed; see the payment function's log for the reason.",
            metric=business_metric(
                namespace=defaults.app_name, name="PaymentsPoisonMessages", service="payment"
            ),
            alarm_topic=alarm_topic,
        )

    def widgets(self) -> list[cloudwatch.IWidget]:
        return [
            graph(
                f"{title(self.queue)}: waiting payments",
                left=[labelled(self.unanswered_alarm.metric, "Age of oldest message (s)")],
                left_annotations=[self.unanswered_alarm.to_annotation()],
                right=[self.queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES)],
            ),
        ]
