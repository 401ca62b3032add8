"""The order sweeper: every 5 minutes, orders stuck in a non-final status go to NEEDS_ATTENTION.

It queries the orders table's status index (`status`, `updatedAt`, keys only) for each non-final
status, oldest first, instead of scanning the table: the cost follows the open orders, not all of
them. The index is not sparse: PENDING orders are written by intake alone, and an index on the
status needs no attribute kept up to date at every final transition; final statuses cost an index
write each but are never read.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.constructs.alarms import alarm_on_any, business_metric
from stacks.constructs.dead_letter_queue import DeadLetterQueue
from stacks.constructs.event_route import TARGET_RETRY_ATTEMPTS
from stacks.constructs.lambda_function import AppFunction, FunctionDefaults
from stacks.constructs.rule_alarms import RuleAlarms

SWEEP_EVERY = Duration.minutes(5)
SERVICE_NAME = "order-sweeper"


class OrderSweeper(Construct):
    """A scheduled function, its rule (with retry and DLQ), and an alarm on orders it had to move."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        orders: dynamodb.ITable,
        status_index: str,
        stuck_after: Duration,
        alarm_topic: sns.ITopic,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.failures = DeadLetterQueue(
            self, "Failures", purpose="failed sweeper runs", alarm_topic=alarm_topic
        )
        self.function = AppFunction(
            self,
            "Function",
            handler="order_sweeper.handler.lambda_handler",
            description="Moves orders stuck past their deadline in a non-final status to NEEDS_ATTENTION",
            service_name=SERVICE_NAME,
            timeout=Duration.minutes(1),
            environment={
                "ORDERS_TABLE_NAME": orders.table_name,
                "ORDERS_STATUS_INDEX_NAME": status_index,
                "STUCK_AFTER_SECONDS": str(int(stuck_after.to_seconds())),
            },
            on_failure=self.failures.queue,
            defaults=defaults,
        )
        # Query (the table's indexes) and the conditional update; no Scan, no Delete.
        orders.grant(self.function.function, "dynamodb:Query", "dynamodb:UpdateItem")
        self.dlq = DeadLetterQueue(
            self, "Dlq", purpose="sweeper runs the schedule could not start", alarm_topic=alarm_topic
        )
        # Scheduled rules live on the default bus, the only one that carries scheduled events.
        self.rule = events.Rule(
            self,
            "Schedule",
            description="Sweeps stuck orders every 5 minutes",
            schedule=events.Schedule.rate(SWEEP_EVERY),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                self.function.function,
                dead_letter_queue=self.dlq.queue,
                retry_attempts=TARGET_RETRY_ATTEMPTS,
                # A run older than the next one is pointless.
                max_event_age=Duration.minutes(5),
            )
        )
        RuleAlarms(self, "RuleAlarms", rule=self.rule, event_bus_name="default", alarm_topic=alarm_topic)
        self.alarm = alarm_on_any(
            self,
            "OrdersNeedingAttention",
            description="The sweeper moved orders stuck past their deadline to NEEDS_ATTENTION: "
            "look at them (stock may be held, money taken).",
            metric=business_metric(
                namespace=defaults.app_name,
                name="OrdersNeedingAttention",
                service=SERVICE_NAME,
                period=SWEEP_EVERY,
            ),
            alarm_topic=alarm_topic,
        )
