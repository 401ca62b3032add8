"""The orders stack: the order flow on the shared bus."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from constructs import Construct

from stacks.config import AppConfig
from stacks.constructs.event_bus import Eventing
from stacks.constructs.lambda_function import function_defaults
from stacks.constructs.orders import OrderFlow
from stacks.constructs.workflow import WorkflowAlarms
from stacks.outputs import add_outputs


class OrdersStack(Stack):
    """Composes the order flow with the bus and alarm topic of the eventing stack."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, eventing: Eventing, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, description=f"{config.app_name}: order flow", **kwargs)
        self.flow = OrderFlow(
            self,
            "Orders",
            bus=eventing.bus,
            alarm_topic=eventing.alarm_topic,
            defaults=function_defaults(config),
            notification_email=config.order_notification_email,
        )
        WorkflowAlarms(self, "WorkflowAlarms", alarm_topic=eventing.alarm_topic)  # every state machine above
        flow = self.flow
        outputs = {
            "OrdersTableName": (flow.orders.table_name, "Orders and their status"),
            "CustomersTableName": (flow.customers.table_name, "Customers (blocked flag, order count)"),
            "InventoryTableName": (flow.inventory.table_name, "Stock per SKU (available, reserved)"),
            "PaymentsTableName": (flow.payments.table_name, "Charges per order"),
            "LedgerTableName": (flow.ledger.table_name, "Accounting ledger entries"),
            "InvoiceBucketName": (
                flow.invoices.bucket.bucket_name,
                "Invoices written by the fulfillment workflow",
            ),
            "OrderWorkflowArn": (flow.workflow.state_machine.state_machine_arn, "The order workflow"),
            "PrepareWorkflowArn": (
                flow.workflow.prepare.state_machine_arn,
                "Express: decision tree, reservation",
            ),
            "FulfillmentWorkflowArn": (
                flow.workflow.fulfillment.state_machine_arn,
                "Express: paid to completed",
            ),
            "CompensationWorkflowArn": (
                flow.workflow.compensation.state_machine_arn,
                "Express: release, refund",
            ),
            "PaymentQueueUrl": (
                flow.payment_service.queue.queue_url,
                "Charge requests for the payment service",
            ),
            "PaymentDlqUrl": (
                flow.payment_service.dlq.queue.queue_url,
                "Payment requests that could not be processed",
            ),
            "OrderNotificationTopicArn": (
                flow.order_notifications.topic.topic_arn,
                "Order outcomes and invoices",
            ),
            "OrderNotificationSubscriberQueueUrl": (
                flow.order_notifications.subscriber_queue.queue_url,
                "The service subscriber",
            ),
            "OrdersApiFunctionName": (flow.intake.function.function_name, "Order intake Lambda"),
            "PaymentFunctionName": (
                flow.payment_service.charge.function.function_name,
                "Payment service Lambda",
            ),
            "AccountingFunctionName": (flow.accounting.function.function_name, "Ledger writer"),
            "OrderStatusFunctionName": (flow.status.function.function_name, "IoT status publisher"),
            "AccountingFailureDlqUrl": (
                flow.accounting.failures.queue.queue_url,
                "Payment events accounting refused (unconfirmed by the payments table) or failed on",
            ),
            "OrderOutboxFailureDlqUrl": (
                flow.intake.outbox_failures.queue.queue_url,
                "Orders-table stream records the outbox could not publish",
            ),
            "OrderSweeperRuleName": (
                flow.sweeper.rule.rule_name,
                "The order sweeper's schedule (rate 5 minutes)",
            ),
        }
        add_outputs(self, outputs)
