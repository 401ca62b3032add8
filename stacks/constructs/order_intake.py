"""Order intake: the order API function, the payment tokens table, and the orders table's outbox."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.constructs.dead_letter_queue import DeadLetterQueue
from stacks.constructs.lambda_function import AppFunction, FunctionDefaults
from stacks.constructs.tables import app_table

# A token only has to live until the payment service charged it (it deletes it then); the TTL removes
# what an order that never got that far leaves behind.
PAYMENT_TOKEN_TTL = Duration.days(1)
# Stream retries of a batch the outbox could not publish, bisected down to the failing record, before
# the mapping gives up and sends its position to the DLQ; the records age out after the same hours a
# rule target's events do.
OUTBOX_RETRY_ATTEMPTS = 10
OUTBOX_MAX_RECORD_AGE = Duration.hours(6)
# OrderPlaced more than this late means the outbox is stuck (failing and retrying, or throttled).
OUTBOX_LAG_ALARM = Duration.minutes(5)
# Which orders-table changes the outbox is invoked for: what it publishes (events_for), nothing else.
OUTBOX_FILTERS = [
    {"eventName": lambda_.FilterRule.is_equal("INSERT")},
    # The workflows' status transitions (events_for publishes only those that change `status`).
    {"eventName": lambda_.FilterRule.is_equal("MODIFY")},
]


class OrderIntake(Construct):
    """POST /orders and GET /orders/{id}, and the outbox that makes a stored order an event.

    The API stores the order (PENDING) and its payment token (in PaymentTokens, under a paymentRef)
    in one transaction and answers 202: it publishes nothing. The orders table's stream is the
    outbox: the `order_outbox` function turns its records into order events (OrderPlaced on INSERT),
    so an order is published if and only if it was stored, at least once.

    A publisher function rather than EventBridge Pipes (stream -> bus): localcloud, where the flows
    run end to end in tests, does not run Pipes, and the function builds each event from the
    shared pydantic contract, so a row that cannot make a valid event fails loudly (retries, then
    the DLQ and its alarm) instead of putting a malformed event on the bus. Pipes' input
    transformers cannot validate; the function costs one small Lambda.

    The API function is this construct's default child ("Default"): it keeps the logical ids it had
    in OrderFlow, as its log group has a fixed name and its ARN is exported to the API stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        orders: dynamodb.Table,
        inventory: dynamodb.ITable,
        idempotency: dynamodb.ITable,
        idempotency_expiry: Duration,
        bus: events.IEventBus,
        alarm_topic: sns.ITopic,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        # Tokens live a day at most: nothing to restore (no backups), and with the stack they may go.
        self.payment_tokens = app_table(
            self, "PaymentTokens", key="paymentRef", ttl="expiresAt", backups=False, kept=False
        )
        cdk.Validations.of(self.payment_tokens).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-DDB3",
                reason="Payment tokens live one day and are deleted once charged; point-in-time "
                "recovery would keep copies of them for 35 days.",
            )
        )

        # -- the API: POST /orders and GET /orders/{orderId} ---------------------------------------
        self.api = AppFunction(
            self,
            "Default",
            handler="orders_api.handler.lambda_handler",
            description="Order intake: prices and stores orders (the outbox publishes them); answers lookups",
            service_name="orders-api",
            environment={
                "ORDERS_TABLE_NAME": orders.table_name,
                "PAYMENT_TOKENS_TABLE_NAME": self.payment_tokens.table_name,
                "INVENTORY_TABLE_NAME": inventory.table_name,
                "IDEMPOTENCY_TABLE_NAME": idempotency.table_name,
                "IDEMPOTENCY_EXPIRY_SECONDS": str(int(idempotency_expiry.to_seconds())),
                "PAYMENT_TOKEN_TTL_SECONDS": str(int(PAYMENT_TOKEN_TTL.to_seconds())),
            },
            defaults=defaults,
        )
        self.function = self.api.function
        # Exactly what it calls: TransactWriteItems is authorized as a PutItem per table.
        # On the table only: Table.grant would add the sweeper's index, which intake never reads.
        iam.Grant.add_to_principal(
            grantee=self.function,
            actions=["dynamodb:PutItem", "dynamodb:GetItem"],
            resource_arns=[orders.table_arn],
        )
        self.payment_tokens.grant(self.function, "dynamodb:PutItem")
        inventory.grant(self.function, "dynamodb:BatchGetItem")
        # Powertools idempotency: put the in-progress record, read it, complete it, delete it on an
        # error before the order was stored.
        idempotency.grant(
            self.function,
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        )

        # -- the outbox: orders table stream -> order events ---------------------------------------
        self.outbox_failures = DeadLetterQueue(
            self,
            "OutboxFailures",
            purpose="orders-table stream records the outbox could not publish (the order may wait "
            "PENDING: redrive from the stream position in the message)",
            alarm_topic=alarm_topic,
        )
        self.outbox = AppFunction(
            self,
            "Outbox",
            handler="order_outbox.handler.lambda_handler",
            description="The orders table's outbox: publishes the order events of its stream records",
            service_name="order-outbox",
            environment={"EVENT_BUS_NAME": bus.event_bus_name},
            defaults=defaults,
        )
        self.outbox_mapping = sources.DynamoEventSource(
            orders,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=25,
            bisect_batch_on_error=True,
            retry_attempts=OUTBOX_RETRY_ATTEMPTS,
            max_record_age=OUTBOX_MAX_RECORD_AGE,
            report_batch_item_failures=True,
            on_failure=sources.SqsDlq(self.outbox_failures.queue),
            filters=[lambda_.FilterCriteria.filter(pattern) for pattern in OUTBOX_FILTERS],
        )
        self.outbox.function.add_event_source(self.outbox_mapping)  # grants the stream reads
        bus.grant_put_events_to(self.outbox.function)
        self.outbox_lag = cloudwatch.Alarm(
            self,
            "OutboxLagAlarm",
            alarm_description="Order events are published late: the outbox keeps failing or is "
            "throttled. Orders wait PENDING until it catches up.",
            metric=self.outbox.function.metric(
                "IteratorAge", period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=OUTBOX_LAG_ALARM.to_milliseconds(),
            evaluation_periods=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.outbox_lag.add_alarm_action(cw_actions.SnsAction(alarm_topic))
