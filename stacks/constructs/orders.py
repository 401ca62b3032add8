"""The order flow: intake, workflows, the payment service behind its queue, and the event consumers."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.constructs.dead_letter_queue import DeadLetterQueue
from stacks.constructs.event_consumer import EventConsumer
from stacks.constructs.event_route import DefaultBusForwarder, EventRoute
from stacks.constructs.idempotency_table import IDEMPOTENCY_EXPIRY, IdempotencyTable
from stacks.constructs.lambda_function import AppFunction, FunctionDefaults
from stacks.constructs.nag import acknowledge_wildcards, logical_id
from stacks.constructs.order_intake import OrderIntake
from stacks.constructs.order_workflows import OrderWorkflow

SOURCE = "myapp.orders"
PAYMENT_TIMEOUT = Duration.seconds(30)
PAYMENT_CONCURRENCY = 2  # the provider's rate limit: a burst of orders queues up instead of overrunning it
PAYMENT_MAX_RECEIVES = 5


def table(
    scope: Construct, construct_id: str, key: str, *, stream: dynamodb.StreamViewType | None = None
) -> dynamodb.Table:
    """An on-demand, encrypted table with point-in-time recovery, keyed by one string attribute."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        stream=stream,
        removal_policy=RemovalPolicy.RETAIN,
    )


class OrderFlow(Construct):
    """Everything of the order flow except the HTTP API, which routes to `intake`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        alarm_topic: sns.ITopic,
        defaults: FunctionDefaults,
        notification_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._defaults = defaults
        app_name, log_retention_days = defaults.app_name, defaults.log_retention_days
        # The stream is intake's outbox: every stored order (and later its changes) becomes an event.
        self.orders = table(self, "OrdersTable", "orderId", stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
        self.customers = table(self, "CustomersTable", "customerId")
        self.inventory = table(self, "InventoryTable", "sku")
        self.payments = table(self, "PaymentsTable", "orderId")
        self.ledger = table(self, "LedgerTable", "entryId")
        self.idempotency = IdempotencyTable(self, "Idempotency")

        # -- intake: POST /orders and GET /orders/{orderId}; the outbox publishes what it stores ----
        self.intake = OrderIntake(
            self,
            "OrdersApi",
            orders=self.orders,
            inventory=self.inventory,
            idempotency=self.idempotency.table,
            idempotency_expiry=IDEMPOTENCY_EXPIRY,
            bus=bus,
            alarm_topic=alarm_topic,
            defaults=defaults,
        )

        # -- inventory and refunds, called by the workflow ---------------------------------------
        self.inventory_fn = AppFunction(
            self,
            "Inventory",
            handler="inventory.handler.lambda_handler",
            description="Reserves and releases stock for an order, atomically and idempotently",
            service_name="inventory",
            environment={"INVENTORY_TABLE_NAME": self.inventory.table_name},
            defaults=self._defaults,
        )
        self.inventory.grant_read_write_data(self.inventory_fn.function)
        self.refund_fn = AppFunction(
            self,
            "Refund",
            handler="payment.refund.lambda_handler",
            description="Refunds an order's charge, once",
            service_name="payment-refund",
            environment={"PAYMENTS_TABLE_NAME": self.payments.table_name},
            defaults=self._defaults,
        )
        self.payments.grant_read_write_data(self.refund_fn.function)

        # -- the payment service: a slower consumer draining its queue at its own pace -----------
        self.payment_dlq = DeadLetterQueue(
            self, "PaymentDlq", purpose="payment requests", alarm_topic=alarm_topic
        )
        self.payment_queue = sqs.Queue(
            self,
            "PaymentQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(int(PAYMENT_TIMEOUT.to_seconds()) * 6),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.payment_dlq.queue, max_receive_count=PAYMENT_MAX_RECEIVES
            ),
        )
        self.payment = AppFunction(
            self,
            "Payment",
            handler="payment.handler.lambda_handler",
            description="Charges orders through the payment provider and answers the workflow's task token",
            service_name="payment",
            timeout=PAYMENT_TIMEOUT,
            reserved_concurrency=PAYMENT_CONCURRENCY,
            environment={
                "PAYMENTS_TABLE_NAME": self.payments.table_name,
                "PAYMENT_LIMIT_CENTS": "100000",
                "PAYMENT_TOKENS_TABLE_NAME": self.intake.payment_tokens.table_name,
            },
            defaults=self._defaults,
        )
        cdk.Validations.of(self.payment.function).acknowledge(
            cdk.Acknowledgment(
                id="Serverless-LambdaEventSourceMappingDestination",
                reason="An SQS source redrives failed messages to the queue's own DLQ after 5 receives; "
                "mapping destinations exist for stream sources only.",
            )
        )
        self.payment.function.add_event_source(
            sources.SqsEventSource(
                self.payment_queue,
                batch_size=10,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
                # No more batches in flight than the function may run: beyond its reserved concurrency
                # Lambda's pollers are throttled, and every throttled receive counts toward the DLQ.
                max_concurrency=PAYMENT_CONCURRENCY,
            )
        )
        self.payments.grant_read_write_data(self.payment.function)
        self.intake.payment_tokens.grant(self.payment.function, "dynamodb:GetItem")  # token_bridge

        # -- workflows ---------------------------------------------------------------------------
        self.invoices = s3.Bucket(
            self,
            "Invoices",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # S3 → EventBridge set on the bucket itself: CDK's `event_bridge_enabled` would add a custom
        # resource (a Lambda) to do what CloudFormation does natively.
        cfn_bucket = self.invoices.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )
        cdk.Validations.of(self.invoices).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-S1",
                reason="Invoices are written only by the fulfillment workflow, whose every call is in its "
                "execution history and CloudTrail; server access logs would add a bucket and no insight.",
            )
        )
        self.workflow = OrderWorkflow(
            self,
            "Workflow",
            bus=bus,
            orders=self.orders,
            customers=self.customers,
            inventory_fn=self.inventory_fn.function,
            refund_fn=self.refund_fn.function,
            payment_queue=self.payment_queue,
            invoices=self.invoices,
            app_name=app_name,
            log_retention_days=log_retention_days,
        )
        self.workflow.state_machine.grant_task_response(self.payment.function)
        workflow = self.workflow
        log_delivery = "Log delivery and X-Ray accept no resource-level permissions (Resource '*')."
        acknowledge_wildcards(
            workflow.state_machine.role,
            reason=f"{log_delivery} Nested .sync runs need DescribeExecution/StopExecution on the child "
            "workflows' executions (`<child>*`).",
            resources=["*"]
            + [
                "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
                '{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"' + logical_id(child) + '"}]}]}*'
                for child in (workflow.prepare, workflow.fulfillment, workflow.compensation)
            ],
        )
        acknowledge_wildcards(
            workflow.prepare.role,
            reason=f"{log_delivery} LambdaInvoke grants the inventory function with its versions (`:*`).",
            resources=["*", f"<{logical_id(self.inventory_fn.function)}.Arn>:*"],
        )
        acknowledge_wildcards(
            workflow.fulfillment.role,
            reason=f"{log_delivery} Invoices are one object per order under invoices/.",
            resources=["*", f"<{logical_id(self.invoices)}.Arn>/invoices/*"],
        )
        acknowledge_wildcards(
            workflow.compensation.role,
            reason=f"{log_delivery} LambdaInvoke grants the inventory and refund functions with their "
            "versions (`:*`).",
            resources=[
                "*",
                f"<{logical_id(self.inventory_fn.function)}.Arn>:*",
                f"<{logical_id(self.refund_fn.function)}.Arn>:*",
            ],
        )

        self.started_by = EventRoute(
            self,
            "OrderPlacedRoute",
            bus=bus,
            pattern=events.EventPattern(source=[SOURCE], detail_type=["OrderPlaced"]),
            description="OrderPlaced starts the order workflow",
            alarm_topic=alarm_topic,
        )
        self.started_by.to(targets.SfnStateMachine(self.workflow.state_machine, **self.started_by.delivery))

        # -- consumers of the events -------------------------------------------------------------
        self.accounting = EventConsumer(
            self,
            "Accounting",
            bus=bus,
            pattern=events.EventPattern(source=[SOURCE], detail_type=["OrderCompleted", "OrderFailed"]),
            handler="accounting.handler.lambda_handler",
            description="Writes a ledger entry per completed or refunded order",
            service_name="accounting",
            alarm_topic=alarm_topic,
            defaults=defaults,
            environment={"LEDGER_TABLE_NAME": self.ledger.table_name},
        )
        self.ledger.grant_read_write_data(self.accounting.function)
        # OrderFailed reaches accounting only when money went back.
        self.accounting.route.with_raw_pattern(
            {
                "source": [SOURCE],
                "$or": [
                    {"detail-type": ["OrderCompleted"]},
                    {"detail-type": ["OrderFailed"], "detail": {"refunded": [True]}},
                ],
            }
        )

        self.status = EventConsumer(
            self,
            "OrderStatus",
            bus=bus,
            pattern=events.EventPattern(source=[SOURCE], detail_type=["OrderStatusChanged"]),
            handler="order_status.handler.lambda_handler",
            description="Publishes each order status change to IoT Core topic orders/{orderId}/status",
            service_name="order-status",
            alarm_topic=alarm_topic,
            defaults=defaults,
        )
        stack = Stack.of(self)
        self.status.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iot:Publish"],
                resources=[stack.format_arn(service="iot", resource="topic", resource_name="orders/*")],
            )
        )
        self.status.function.add_to_role_policy(
            iam.PolicyStatement(actions=["iot:DescribeEndpoint"], resources=["*"])
        )
        acknowledge_wildcards(
            self.status.app_function.role,
            reason="iot:DescribeEndpoint and X-Ray accept no resource-level permissions; there is one "
            "topic per order, orders/{orderId}/status, so iot:Publish is on orders/*.",
            resources=["*", "arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:topic/orders/*"],
        )

        # -- notifications: a service subscriber (SQS) and people (email) ------------------------
        key = kms.Key(
            self,
            "NotificationKey",
            description="Encrypts the order notification topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # EventBridge publishes with a role (EventRoute.to_topic): no service principal on this key.
        self.notifications = sns.Topic(
            self, "Notifications", display_name="Order notifications", master_key=key, enforce_ssl=True
        )
        self.subscriber_dlq = DeadLetterQueue(
            self,
            "SubscriberDlq",
            purpose="order notifications the service subscriber missed",
            alarm_topic=alarm_topic,
        )
        self.subscriber_queue = sqs.Queue(
            self,
            "NotificationSubscriber",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.subscriber_dlq.queue, max_receive_count=5),
        )
        self.notifications.add_subscription(
            subscriptions.SqsSubscription(
                self.subscriber_queue, raw_message_delivery=True, dead_letter_queue=self.subscriber_dlq.queue
            )
        )
        if notification_email:
            self.notifications.add_subscription(
                subscriptions.EmailSubscription(
                    notification_email, dead_letter_queue=self.subscriber_dlq.queue
                )
            )
        order_id = events.EventField.from_path("$.detail.orderId")
        outcome = events.EventField.from_path("$.detail-type")
        self.notify = EventRoute(
            self,
            "NotifyRoute",
            bus=bus,
            pattern=events.EventPattern(
                source=[SOURCE], detail_type=["OrderCompleted", "OrderFailed", "OrderRejected"]
            ),
            description="Order outcomes, as one readable line, to the notification topic",
            alarm_topic=alarm_topic,
        ).to_topic(self.notifications, events.RuleTargetInput.from_text(f"{outcome}: order {order_id}"))

        # The invoice's own event: S3 notifies the default bus; forward this bucket's to the custom bus.
        invoice_created = events.EventPattern(
            source=["aws.s3"],
            detail_type=["Object Created"],
            detail={"bucket": {"name": [self.invoices.bucket_name]}},
        )
        self.invoice_forwarding = DefaultBusForwarder(
            self,
            "ForwardInvoiceEvents",
            bus=bus,
            pattern=invoice_created,
            description="Forwards the invoice bucket's Object Created events from the default bus",
            alarm_topic=alarm_topic,
        )
        key_path = events.EventField.from_path("$.detail.object.key")
        self.invoice_route = EventRoute(
            self,
            "InvoiceCreatedRoute",
            bus=bus,
            pattern=invoice_created,
            description="A new invoice in S3: tell the customer",
            alarm_topic=alarm_topic,
        ).to_topic(self.notifications, events.RuleTargetInput.from_text(f"Invoice ready: {key_path}"))
