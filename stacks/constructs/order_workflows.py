"""The order workflow: a short Standard parent that waits for payment, and Express children for the rest.

Standard is billed per state transition and Express per run and duration, so the parent keeps only
what needs Standard (a callback that may wait minutes, exactly-once state) and nests the steps that
are idempotent and quick as Express workflows: prepare (decision tree + reservation), fulfill, and
compensate. docs/cost.md has the numbers."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.constructs.workflow import (
    DYNAMODB_TRANSIENT,
    EVENTS_TRANSIENT,
    LAMBDA_TRANSIENT,
    S3_TRANSIENT,
    STEPFUNCTIONS_TRANSIENT,
    logged_state_machine,
    retry_transient,
)

SOURCE = "myapp.orders"
# How long the payment service may take to answer a charge request, and to show it is alive.
PAYMENT_HEARTBEAT = Duration.minutes(5)
PAYMENT_TIMEOUT = Duration.minutes(15)
ORDER_TIMEOUT = Duration.hours(1)
CHILD_TIMEOUT = Duration.minutes(5)


class OrderSteps:
    """Builds the steps the order workflows share: recording a status and announcing it."""

    def __init__(self, scope: Construct, *, bus: events.IEventBus, orders: dynamodb.ITable) -> None:
        self._scope = scope
        self._bus = bus
        self._orders = orders

    def publish(self, name: str, entries: list[tuple[str, dict[str, Any]]]) -> sfn.TaskStateBase:
        return retry_transient(
            tasks.EventBridgePutEvents(
                self._scope,
                name,
                entries=[
                    tasks.EventBridgePutEventsEntry(
                        event_bus=self._bus,
                        source=SOURCE,
                        detail_type=detail_type,
                        detail=sfn.TaskInput.from_object(detail),
                    )
                    for detail_type, detail in entries
                ],
                result_path=sfn.JsonPath.DISCARD,
            ),
            EVENTS_TRANSIENT,
        )

    def set_status(
        self,
        name: str,
        status: str,
        *,
        on_error: sfn.IChainable,
        reason: str | None = None,
        also: list[tuple[str, dict[str, Any]]] | None = None,
        extra_update: tuple[str, str] | None = None,
    ) -> sfn.Chain:
        """Records the order's status and publishes OrderStatusChanged (plus any outcome event)."""
        order_id = sfn.JsonPath.string_at("$.order.orderId")
        names = {"#status": "status"}
        values = {
            ":status": tasks.DynamoAttributeValue.from_string(status),
            ":now": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$$.State.EnteredTime")),
        }
        expression = "SET #status = :status, updatedAt = :now"
        if reason is not None:
            names["#reason"] = "reason"
            values[":reason"] = tasks.DynamoAttributeValue.from_string(reason)
            expression += ", #reason = :reason"
        if extra_update is not None:
            attribute, path = extra_update
            values[":extra"] = tasks.DynamoAttributeValue.from_string(path)
            expression += f", {attribute} = :extra"
        update = retry_transient(
            tasks.DynamoUpdateItem(
                self._scope,
                f"Set{name}",
                table=self._orders,
                key={"orderId": tasks.DynamoAttributeValue.from_string(order_id)},
                update_expression=expression,
                expression_attribute_names=names,
                expression_attribute_values=values,
                result_path=sfn.JsonPath.DISCARD,
            ),
            DYNAMODB_TRANSIENT,
        )
        changed: dict[str, Any] = {
            "version": "1.0",
            "orderId": order_id,
            "customerId": sfn.JsonPath.string_at("$.order.customerId"),
            "status": status,
            "changedAt": sfn.JsonPath.string_at("$$.State.EnteredTime"),
        }
        if reason is not None:
            changed["reason"] = reason
        publish = self.publish(f"Publish{name}", [("OrderStatusChanged", changed), *(also or [])])
        for task in (update, publish):
            task.add_catch(on_error, errors=["States.ALL"], result_path="$.error")
        return update.next(publish)


def express(
    scope: Construct, construct_id: str, *, definition: sfn.IChainable, app_name: str, name: str, days: int
) -> sfn.StateMachine:
    """An Express child workflow: short, idempotent steps."""
    return logged_state_machine(
        scope,
        construct_id,
        definition=definition,
        type_=sfn.StateMachineType.EXPRESS,
        timeout=CHILD_TIMEOUT,
        app_name=app_name,
        name=name,
        days=days,
    )


def failed_state(scope: Construct, name: str) -> sfn.Fail:
    """Ends a child with the cause of the error that stopped it, so the parent's Catch sees why.

    The error name is the state's own: a Fail state may not raise a `States.*` name itself.
    """
    return sfn.Fail(scope, name, error=name, cause_path="$.error.Cause")


class OrderWorkflow(Construct):
    """Standard parent: prepare → payment by task token → fulfill, compensating on any failure."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        orders: dynamodb.ITable,
        customers: dynamodb.ITable,
        inventory_fn: lambda_.IFunction,
        refund_fn: lambda_.IFunction,
        payment_queue: sqs.IQueue,
        invoices: s3.IBucket,
        app_name: str,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self._app_name = app_name
        self._days = log_retention_days
        self._customers = customers
        self._inventory_fn = inventory_fn
        self._refund_fn = refund_fn
        self._invoices = invoices
        self._steps = OrderSteps(self, bus=bus, orders=orders)
        self.prepare = self._prepare_workflow()
        self.fulfillment = self._fulfillment_workflow()
        self.compensation = self._compensation_workflow()

        def run(name: str, child: sfn.IStateMachine, result_path: str) -> tasks.StepFunctionsStartExecution:
            task = tasks.StepFunctionsStartExecution(
                self,
                name,
                state_machine=child,
                integration_pattern=sfn.IntegrationPattern.RUN_JOB,
                input=sfn.TaskInput.from_object(
                    {"order": sfn.JsonPath.object_at("$.order"), "error": sfn.JsonPath.object_at("$.error")}
                    if name == "Compensate"
                    else {"order": sfn.JsonPath.object_at("$.order")}
                ),
                result_selector={"output.$": "$.Output"},
                result_path=result_path,
            )
            retry_transient(task, STEPFUNCTIONS_TRANSIENT)
            return task

        compensate = run("Compensate", self.compensation, "$.compensation")
        compensate.add_catch(
            sfn.Fail(
                self, "CompensationFailed", error="CompensationFailed", cause="Release or refund failed"
            ),
            errors=["States.ALL"],
            result_path="$.compensationError",
        )
        compensated = compensate.next(sfn.Succeed(self, "OrderFailedHandled"))

        prepare = run("Prepare", self.prepare, "$.prepared")
        prepare.add_catch(compensated, errors=["States.ALL"], result_path="$.error")
        pay = tasks.SqsSendMessage(
            self,
            "RequestPayment",
            queue=payment_queue,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            message_body=sfn.TaskInput.from_object(
                {
                    "taskToken": sfn.JsonPath.task_token,
                    "orderId": sfn.JsonPath.string_at("$.order.orderId"),
                    "amountCents": sfn.JsonPath.number_at("$.order.totalCents"),
                    "currency": sfn.JsonPath.string_at("$.order.currency"),
                    "paymentRef": sfn.JsonPath.string_at(
                        "$.order.paymentRef"
                    ),  # never the token: see payment.token_bridge
                    "attempt": sfn.JsonPath.number_at("$$.State.RetryCount"),
                }
            ),
            heartbeat_timeout=sfn.Timeout.duration(PAYMENT_HEARTBEAT),
            task_timeout=sfn.Timeout.duration(PAYMENT_TIMEOUT),
            result_path="$.payment",
        )
        # A transient provider failure is retried here, with a fresh message and token each time.
        pay.add_retry(
            errors=["PaymentTransientError"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2
        )
        retry_transient(pay, ["SQS.SdkClientException", "SQS.AmazonSQSException"])
        pay.add_catch(compensated, errors=["States.ALL"], result_path="$.error")
        fulfill = run("Fulfill", self.fulfillment, "$.fulfillment")
        fulfill.add_catch(compensated, errors=["States.ALL"], result_path="$.error")

        definition = (
            sfn.Pass(self, "ReadOrder", parameters={"order.$": "$.detail"})
            .next(prepare)
            .next(
                sfn.Choice(self, "Prepared")
                .when(
                    sfn.Condition.string_equals("$.prepared.output.outcome", "REJECTED"),
                    sfn.Succeed(self, "OrderRejectedHandled"),
                )
                .otherwise(pay.next(fulfill).next(sfn.Succeed(self, "OrderCompletedHandled")))
            )
        )
        self.state_machine = logged_state_machine(
            self,
            "StateMachine",
            definition=definition,
            type_=sfn.StateMachineType.STANDARD,
            timeout=ORDER_TIMEOUT,
            app_name=app_name,
            name="orders",
            days=log_retention_days,
        )

    def _rejected(self, name: str, reason: str, failed: sfn.IChainable) -> sfn.IChainable:
        order_id = sfn.JsonPath.string_at("$.order.orderId")
        return self._steps.set_status(
            f"Rejected{name}",
            "REJECTED",
            reason=reason,
            on_error=failed,
            also=[
                (
                    "OrderRejected",
                    {
                        "version": "1.0",
                        "orderId": order_id,
                        "customerId": sfn.JsonPath.string_at("$.order.customerId"),
                        "reason": reason,
                    },
                )
            ],
        ).next(
            sfn.Pass(
                self, f"Rejected{name}Outcome", parameters={"outcome": "REJECTED", "reason": reason}
            ).next(sfn.Succeed(self, f"Rejected{name}Done"))
        )

    def _prepare_workflow(self) -> sfn.StateMachine:
        """Express: the customer decision tree, then the stock reservation."""
        failed = failed_state(self, "PrepareFailed")
        customer_key = {
            "customerId": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.order.customerId"))
        }
        get_customer = retry_transient(
            tasks.DynamoGetItem(
                self, "GetCustomer", table=self._customers, key=customer_key, result_path="$.customer"
            ),
            DYNAMODB_TRANSIENT,
        )
        get_customer.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        reserve = retry_transient(
            tasks.LambdaInvoke(
                self,
                "ReserveInventory",
                lambda_function=self._inventory_fn,
                payload=sfn.TaskInput.from_object(
                    {
                        "action": "reserve",
                        "orderId": sfn.JsonPath.string_at("$.order.orderId"),
                        "lines": sfn.JsonPath.list_at("$.order.lines"),
                    }
                ),
                result_path=sfn.JsonPath.DISCARD,
                retry_on_service_exceptions=False,
            ),
            LAMBDA_TRANSIENT,
        )
        reserve.add_catch(
            self._rejected("OutOfStock", "out of stock", failed), errors=["OutOfStock"], result_path="$.error"
        )
        reserve.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        reserved = self._steps.set_status("Reserved", "RESERVED", on_error=failed).next(
            sfn.Pass(self, "ReservedOutcome", parameters={"outcome": "RESERVED"})
        )
        decide = (
            sfn.Choice(self, "CustomerStatus")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.customer.Item.blocked.BOOL"),
                    sfn.Condition.boolean_equals("$.customer.Item.blocked.BOOL", True),
                ),
                self._rejected("Blocked", "customer is blocked", failed),
            )
            .when(
                sfn.Condition.is_present("$.customer.Item"),
                sfn.Pass(
                    self,
                    "Returning",
                    result=sfn.Result.from_string("RETURNING"),
                    result_path="$.customerStatus",
                ),
            )
            .otherwise(
                sfn.Pass(self, "New", result=sfn.Result.from_string("NEW"), result_path="$.customerStatus")
            )
            .afterwards()
        )
        return express(
            self,
            "PrepareWorkflow",
            definition=get_customer.next(decide).next(reserve).next(reserved),
            app_name=self._app_name,
            name="order-prepare",
            days=self._days,
        )

    def _fulfillment_workflow(self) -> sfn.StateMachine:
        """Express: paid → pick the lines → invoice in S3 → OrderCompleted, published by the workflow."""
        failed = failed_state(self, "FulfillmentFailed")
        order_id = sfn.JsonPath.string_at("$.order.orderId")
        invoice_key = sfn.JsonPath.format("invoices/{}.json", order_id)
        pick = sfn.Map(
            self,
            "PickLines",
            items_path="$.order.lines",
            item_selector={"sku.$": "$$.Map.Item.Value.sku", "quantity.$": "$$.Map.Item.Value.quantity"},
            result_path="$.picked",
            max_concurrency=10,
        ).item_processor(
            sfn.Pass(
                self, "PickLine", parameters={"sku.$": "$.sku", "quantity.$": "$.quantity", "picked": True}
            )
        )
        write_invoice = retry_transient(
            tasks.CallAwsService(
                self,
                "WriteInvoice",
                service="s3",
                action="putObject",
                parameters={
                    "Bucket": self._invoices.bucket_name,
                    "Key": invoice_key,
                    # The invoice: the order without its payment token.
                    "Body.$": "States.JsonToString($.invoice)",
                    "ContentType": "application/json",
                },
                iam_resources=[self._invoices.arn_for_objects("invoices/*")],
                result_path=sfn.JsonPath.DISCARD,
            ),
            S3_TRANSIENT,
        )
        publish_completed = self._steps.publish(
            "PublishOrderCompleted",
            [
                (
                    "OrderCompleted",
                    {
                        "version": "1.0",
                        "orderId": order_id,
                        "customerId": sfn.JsonPath.string_at("$.order.customerId"),
                        "totalCents": sfn.JsonPath.number_at("$.order.totalCents"),
                        "currency": sfn.JsonPath.string_at("$.order.currency"),
                        "invoiceKey": invoice_key,
                    },
                )
            ],
        )
        count_order = retry_transient(
            tasks.DynamoUpdateItem(
                self,
                "CountCustomerOrder",
                table=self._customers,
                key={
                    "customerId": tasks.DynamoAttributeValue.from_string(
                        sfn.JsonPath.string_at("$.order.customerId")
                    )
                },
                update_expression="ADD orderCount :one",
                expression_attribute_values={":one": tasks.DynamoAttributeValue.from_number(1)},
                result_path=sfn.JsonPath.DISCARD,
            ),
            DYNAMODB_TRANSIENT,
        )
        for task in (write_invoice, publish_completed, count_order):
            task.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        build_invoice = sfn.Pass(
            self,
            "BuildInvoice",
            parameters={
                field: sfn.JsonPath.string_at(f"$.order.{field}")
                for field in ("orderId", "customerId", "lines", "currency", "totalCents", "placedAt")
            },
            result_path="$.invoice",
        )
        definition = (
            self._steps.set_status("Paid", "PAID", on_error=failed)
            .next(pick)
            .next(build_invoice)
            .next(write_invoice)
            .next(publish_completed)
            .next(count_order)
            .next(
                self._steps.set_status(
                    "Completed", "COMPLETED", on_error=failed, extra_update=("invoiceKey", invoice_key)
                )
            )
            .next(sfn.Pass(self, "Fulfilled", parameters={"invoiceKey": invoice_key}))
        )
        return express(
            self,
            "Fulfillment",
            definition=definition,
            app_name=self._app_name,
            name="fulfillment",
            days=self._days,
        )

    def _compensation_workflow(self) -> sfn.StateMachine:
        """Express: release the reservation, refund any charge, record FAILED and publish OrderFailed."""
        failed = failed_state(self, "CompensationStepFailed")
        order_id = sfn.JsonPath.string_at("$.order.orderId")
        release = retry_transient(
            tasks.LambdaInvoke(
                self,
                "ReleaseInventory",
                lambda_function=self._inventory_fn,
                payload=sfn.TaskInput.from_object(
                    {"action": "release", "orderId": order_id, "lines": sfn.JsonPath.list_at("$.order.lines")}
                ),
                result_path=sfn.JsonPath.DISCARD,
                retry_on_service_exceptions=False,
            ),
            LAMBDA_TRANSIENT,
        )
        refund = retry_transient(
            tasks.LambdaInvoke(
                self,
                "Refund",
                lambda_function=self._refund_fn,
                payload=sfn.TaskInput.from_object({"orderId": order_id}),
                result_selector={
                    "refunded.$": "$.Payload.refunded",
                    "refundedCents.$": "$.Payload.refundedCents",
                },
                result_path="$.refund",
                retry_on_service_exceptions=False,
            ),
            LAMBDA_TRANSIENT,
        )
        for task in (release, refund):
            task.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        reason = sfn.JsonPath.string_at("$.error.Error")
        record = self._steps.set_status(
            "Failed",
            "FAILED",
            reason=reason,
            on_error=failed,
            also=[
                (
                    "OrderFailed",
                    {
                        "version": "1.0",
                        "orderId": order_id,
                        "customerId": sfn.JsonPath.string_at("$.order.customerId"),
                        "reason": reason,
                        "refunded": sfn.JsonPath.string_at("$.refund.refunded"),
                        "refundedCents": sfn.JsonPath.number_at("$.refund.refundedCents"),
                        "currency": sfn.JsonPath.string_at("$.order.currency"),
                    },
                )
            ],
        )
        definition = (
            release.next(refund)
            .next(record)
            .next(sfn.Pass(self, "Compensated", parameters={"outcome": "FAILED"}))
        )
        return express(
            self,
            "Compensation",
            definition=definition,
            app_name=self._app_name,
            name="compensation",
            days=self._days,
        )
