"""The order flow: intake, workflows, the payment service behind its queue, and the event consumers."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambdas.shared.contracts import names
from stacks.constructs.event_consumer import EventConsumer
from stacks.constructs.event_route import EventRoute
from stacks.constructs.idempotency_table import IDEMPOTENCY_EXPIRY, IdempotencyTable
from stacks.constructs.invoices import Invoices
from stacks.constructs.lambda_function import AppFunction, FunctionDefaults
from stacks.constructs.nag import acknowledge_wildcards, logical_id
from stacks.constructs.order_children import ChildResources
from stacks.constructs.order_intake import OrderIntake
from stacks.constructs.order_notifications import OrderNotifications
from stacks.constructs.order_sweeper import OrderSweeper
from stacks.constructs.order_workflows import ORDER_STUCK_AFTER, PAYMENT_HEARTBEAT, OrderWorkflow
from stacks.constructs.patterns import event_pattern
from stacks.constructs.payment_service import PaymentService
from stacks.constructs.pinned import pinned_id
from stacks.constructs.tables import app_table

ORDERS_BY_STATUS = "ByStatus"


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
        self.orders = app_table(
            self, "OrdersTable", key="orderId", stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES
        )
        self.customers = app_table(self, "CustomersTable", key="customerId")
        self.inventory = app_table(self, "InventoryTable", key="sku")
        self.payments = app_table(self, "PaymentsTable", key="orderId")
        self.ledger = app_table(self, "LedgerTable", key="entryId")
        # The sweeper's view of the orders: by status, oldest change first (keys only, so cheap to keep).
        self.orders.add_global_secondary_index(
            index_name=ORDERS_BY_STATUS,
            partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="updatedAt", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        acknowledge_wildcards(
            self,
            reason="Grants on the orders table cover its indexes (`/index/*`): the sweeper queries "
            f"{ORDERS_BY_STATUS}, and CDK grants name every index of the table that way.",
            resources=[f"<{logical_id(self.orders)}.Arn>/index/*"],
        )
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

        # -- inventory, called by the workflows --------------------------------------------------
        self.inventory_fn = AppFunction(
            self,
            "Inventory",
            handler="inventory.handler.lambda_handler",
            description="Reserves, commits and releases stock for an order, atomically and idempotently",
            service_name="inventory",
            environment={"INVENTORY_TABLE_NAME": self.inventory.table_name},
            defaults=self._defaults,
        )
        # TransactWriteItems is authorized per item: Put/Update/Delete of markers and stock items.
        self.inventory.grant(
            self.inventory_fn.function,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
        )

        # -- the payment service: a slower consumer draining its queue at its own pace -----------
        self.payment_service = PaymentService(
            self,
            "Payment",
            payments=self.payments,
            payment_tokens=self.intake.payment_tokens,
            bus=bus,
            alarm_topic=alarm_topic,
            defaults=defaults,
            heartbeat=PAYMENT_HEARTBEAT,
        )

        # -- workflows ---------------------------------------------------------------------------
        self.invoices = Invoices(self, "InvoiceStore", bus=bus, alarm_topic=alarm_topic)
        self.workflow = OrderWorkflow(
            self,
            "Workflow",
            res=ChildResources(
                orders=self.orders,
                customers=self.customers,
                inventory_fn=self.inventory_fn.function,
                refund_fn=self.payment_service.refund.function,
                invoices=self.invoices.bucket,
                app_name=app_name,
                log_retention_days=log_retention_days,
            ),
            payment_queue=self.payment_service.queue,
        )
        self.workflow.state_machine.grant_task_response(self.payment_service.charge.function)
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
            reason=f"{log_delivery} Invoices are one object per order under invoices/; LambdaInvoke "
            "grants the inventory function with its versions (`:*`).",
            resources=[
                "*",
                f"<{pinned_id(self.invoices.bucket)}.Arn>/invoices/*",
                f"<{logical_id(self.inventory_fn.function)}.Arn>:*",
            ],
        )
        acknowledge_wildcards(
            workflow.compensation.role,
            reason=f"{log_delivery} LambdaInvoke grants the inventory and refund functions with their "
            "versions (`:*`).",
            resources=[
                "*",
                f"<{logical_id(self.inventory_fn.function)}.Arn>:*",
                f"<{logical_id(self.payment_service.refund.function)}.Arn>:*",
            ],
        )

        self.started_by = EventRoute(
            self,
            "OrderPlacedRoute",
            bus=bus,
            pattern=event_pattern(names.ORDER_PLACED_ONLY),
            description="OrderPlaced starts the order workflow",
            alarm_topic=alarm_topic,
        )
        self.started_by.to(targets.SfnStateMachine(self.workflow.state_machine, **self.started_by.delivery))
        self.sweeper = OrderSweeper(
            self,
            "Sweeper",
            orders=self.orders,
            status_index=ORDERS_BY_STATUS,
            stuck_after=ORDER_STUCK_AFTER,
            alarm_topic=alarm_topic,
            defaults=defaults,
        )

        # -- consumers of the events -------------------------------------------------------------
        self.accounting = EventConsumer(
            self,
            "Accounting",
            bus=bus,
            pattern=event_pattern(names.PAYMENT_OUTCOMES),
            handler="accounting.handler.lambda_handler",
            description="Writes a ledger entry per charge and per refund the payments table confirms",
            service_name="accounting",
            alarm_topic=alarm_topic,
            defaults=defaults,
            environment={
                "LEDGER_TABLE_NAME": self.ledger.table_name,
                "PAYMENTS_TABLE_NAME": self.payments.table_name,
            },
        )
        self.ledger.grant(self.accounting.function, "dynamodb:PutItem", "dynamodb:ConditionCheckItem")
        self.payments.grant(self.accounting.function, "dynamodb:GetItem")

        self.status = EventConsumer(
            self,
            "OrderStatus",
            bus=bus,
            pattern=event_pattern(names.ORDER_STATUS),
            handler="order_status.handler.lambda_handler",
            description="Publishes each order status change to IoT Core topic orders/{orderId}/status",
            service_name="order-status",
            alarm_topic=alarm_topic,
            defaults=defaults,
            # A status is news of the moment: replayed, it would show a front end a status long gone.
            replays=False,
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
        self.order_notifications = OrderNotifications(
            self,
            "OrderNotifications",
            bus=bus,
            alarm_topic=alarm_topic,
            notification_email=notification_email,
        )
        self.invoices.notify(self.order_notifications.topic)
