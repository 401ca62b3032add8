"""The order workflow (Standard) and the fulfillment workflow (Express) it runs as a nested execution."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.constructs.lambda_function import retention

SOURCE = "myapp.orders"
# How long the payment service may take to answer a charge request, and to show it is alive.
PAYMENT_HEARTBEAT = Duration.minutes(5)
PAYMENT_TIMEOUT = Duration.minutes(15)
ORDER_TIMEOUT = Duration.hours(1)
FULFILLMENT_TIMEOUT = Duration.minutes(5)

DYNAMODB_TRANSIENT = [
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerErrorException",
]
EVENTS_TRANSIENT = ["EventBridge.InternalException", "EventBridge.ThrottlingException"]
LAMBDA_TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
S3_TRANSIENT = ["S3.InternalError", "S3.SlowDown", "S3.ServiceUnavailable"]


def retry_transient(task: sfn.TaskStateBase, errors: list[str]) -> sfn.TaskStateBase:
    """Every task retries what AWS says is transient, boundedly, with back-off."""
    task.add_retry(errors=errors, interval=Duration.seconds(1), max_attempts=3, backoff_rate=2)
    return task


def state_machine_logs(
    scope: Construct, construct_id: str, *, app_name: str, name: str, days: int
) -> logs.LogGroup:
    # Step Functions needs a name under /aws/vendedlogs/ for its log delivery resource policy.
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=f"/aws/vendedlogs/states/{app_name}-{name}",
        retention=retention(days),
        removal_policy=RemovalPolicy.DESTROY,
    )


class FulfillmentWorkflow(Construct):
    """Express: picks the order's lines, writes the invoice to S3, publishes OrderCompleted itself.

    Express fits: every step is idempotent (Pass states, a deterministic invoice key, a completion
    event whose consumers are idempotent) and the run ends in seconds.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        invoices: s3.IBucket,
        app_name: str,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        invoice_key = "States.Format('invoices/{}.json', $.order.orderId)"
        pick = sfn.Map(
            self,
            "PickLines",
            items_path="$.order.lines",
            item_selector={
                "sku.$": "$$.Map.Item.Value.sku",
                "quantity.$": "$$.Map.Item.Value.quantity",
            },
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
                    "Bucket": invoices.bucket_name,
                    "Key.$": invoice_key,
                    "Body.$": "States.JsonToString($.order)",
                    "ContentType": "application/json",
                },
                iam_resources=[invoices.arn_for_objects("invoices/*")],
                result_path=sfn.JsonPath.DISCARD,
            ),
            S3_TRANSIENT,
        )
        publish_completed = retry_transient(
            tasks.EventBridgePutEvents(
                self,
                "PublishOrderCompleted",
                entries=[
                    tasks.EventBridgePutEventsEntry(
                        event_bus=bus,
                        source=SOURCE,
                        detail_type="OrderCompleted",
                        detail=sfn.TaskInput.from_object(
                            {
                                "version": "1.0",
                                "orderId": sfn.JsonPath.string_at("$.order.orderId"),
                                "customerId": sfn.JsonPath.string_at("$.order.customerId"),
                                "totalCents": sfn.JsonPath.number_at("$.order.totalCents"),
                                "currency": sfn.JsonPath.string_at("$.order.currency"),
                                "invoiceKey": sfn.JsonPath.format(
                                    "invoices/{}.json", sfn.JsonPath.string_at("$.order.orderId")
                                ),
                            }
                        ),
                    )
                ],
                result_path=sfn.JsonPath.DISCARD,
            ),
            EVENTS_TRANSIENT,
        )
        fulfillment_failed = sfn.Fail(
            self,
            "FulfillmentFailed",
            error_path="$.error.Error",
            cause_path="$.error.Cause",
        )
        for task in (write_invoice, publish_completed):
            task.add_catch(fulfillment_failed, errors=["States.ALL"], result_path="$.error")
        done = sfn.Pass(
            self,
            "Fulfilled",
            parameters={
                "invoiceKey": sfn.JsonPath.format(
                    "invoices/{}.json", sfn.JsonPath.string_at("$.order.orderId")
                )
            },
        )
        self.log_group = state_machine_logs(
            self, "Logs", app_name=app_name, name="fulfillment", days=log_retention_days
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.EXPRESS,
            definition_body=sfn.DefinitionBody.from_chainable(
                pick.next(write_invoice).next(publish_completed).next(done)
            ),
            timeout=FULFILLMENT_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )


class OrderWorkflow(Construct):
    """Standard: customer decision tree, reservation, payment by task token, nested fulfillment,
    and compensation (release, refund) with an OrderFailed event when anything fails."""

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
        fulfillment: sfn.IStateMachine,
        app_name: str,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self._bus = bus
        self._orders = orders
        order_id = sfn.JsonPath.string_at("$.order.orderId")

        start = sfn.Pass(self, "ReadOrder", parameters={"order.$": "$.detail"})
        get_customer = retry_transient(
            tasks.DynamoGetItem(
                self,
                "GetCustomer",
                table=customers,
                key={
                    "customerId": tasks.DynamoAttributeValue.from_string(
                        sfn.JsonPath.string_at("$.order.customerId")
                    )
                },
                result_path="$.customer",
            ),
            DYNAMODB_TRANSIENT,
        )

        # Compensation: release whatever was reserved, refund whatever was charged, say so.
        release = retry_transient(
            tasks.LambdaInvoke(
                self,
                "ReleaseInventory",
                lambda_function=inventory_fn,
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
                lambda_function=refund_fn,
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
        compensation_failed = sfn.Fail(
            self,
            "CompensationFailed",
            error="CompensationFailed",
            cause="Releasing or refunding the order failed",
        )
        for step in (release, refund):
            step.add_catch(compensation_failed, errors=["States.ALL"], result_path="$.compensationError")
        failed = self._set_status(
            "Failed",
            "FAILED",
            reason=sfn.JsonPath.string_at("$.error.Error"),
            also=[
                (
                    "OrderFailed",
                    {
                        "version": "1.0",
                        "orderId": order_id,
                        "customerId": sfn.JsonPath.string_at("$.order.customerId"),
                        "reason": sfn.JsonPath.string_at("$.error.Error"),
                        "refunded": sfn.JsonPath.string_at("$.refund.refunded"),
                        "refundedCents": sfn.JsonPath.number_at("$.refund.refundedCents"),
                    },
                )
            ],
        )
        compensate = release.next(refund).next(failed).next(sfn.Succeed(self, "OrderFailedHandled"))

        def rejected(name: str, reason: str) -> sfn.IChainable:
            return self._set_status(
                f"Rejected{name}",
                "REJECTED",
                reason=reason,
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
            ).next(sfn.Succeed(self, f"Rejected{name}Handled"))

        reserve = retry_transient(
            tasks.LambdaInvoke(
                self,
                "ReserveInventory",
                lambda_function=inventory_fn,
                payload=sfn.TaskInput.from_object(
                    {"action": "reserve", "orderId": order_id, "lines": sfn.JsonPath.list_at("$.order.lines")}
                ),
                result_path=sfn.JsonPath.DISCARD,
                retry_on_service_exceptions=False,
            ),
            LAMBDA_TRANSIENT,
        )
        reserve.add_catch(
            rejected("OutOfStock", "out of stock"), errors=["OutOfStock"], result_path="$.error"
        )
        reserve.add_catch(compensate, errors=["States.ALL"], result_path="$.error")

        pay = tasks.SqsSendMessage(
            self,
            "RequestPayment",
            queue=payment_queue,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            message_body=sfn.TaskInput.from_object(
                {
                    "taskToken": sfn.JsonPath.task_token,
                    "orderId": order_id,
                    "amountCents": sfn.JsonPath.number_at("$.order.totalCents"),
                    "currency": sfn.JsonPath.string_at("$.order.currency"),
                    "paymentToken": sfn.JsonPath.string_at("$.order.paymentToken"),
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
        pay.add_catch(compensate, errors=["States.ALL"], result_path="$.error")

        fulfill = tasks.StepFunctionsStartExecution(
            self,
            "Fulfill",
            state_machine=fulfillment,
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            input=sfn.TaskInput.from_object(
                {"order": sfn.JsonPath.object_at("$.order"), "payment": sfn.JsonPath.object_at("$.payment")}
            ),
            result_selector={"invoiceKey.$": "$.Output.invoiceKey"},
            result_path="$.fulfillment",
        )
        retry_transient(
            fulfill, ["StepFunctions.ExecutionLimitExceededException", "StepFunctions.SdkClientException"]
        )
        fulfill.add_catch(compensate, errors=["States.ALL"], result_path="$.error")

        count_order = retry_transient(
            tasks.DynamoUpdateItem(
                self,
                "CountCustomerOrder",
                table=customers,
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
        count_order.add_catch(compensate, errors=["States.ALL"], result_path="$.error")

        decide = (
            sfn.Choice(self, "CustomerStatus")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.customer.Item.blocked.BOOL"),
                    sfn.Condition.boolean_equals("$.customer.Item.blocked.BOOL", True),
                ),
                rejected("Blocked", "customer is blocked"),
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
        get_customer.add_catch(compensate, errors=["States.ALL"], result_path="$.error")

        definition = (
            start.next(get_customer)
            .next(decide)
            .next(reserve)
            .next(self._set_status("Reserved", "RESERVED", catch=compensate))
            .next(pay)
            .next(self._set_status("Paid", "PAID", catch=compensate))
            .next(fulfill)
            .next(count_order)
            .next(
                self._set_status(
                    "Completed",
                    "COMPLETED",
                    catch=compensate,
                    extra_update=("invoiceKey", sfn.JsonPath.string_at("$.fulfillment.invoiceKey")),
                )
            )
            .next(sfn.Succeed(self, "OrderCompletedHandled"))
        )
        self.log_group = state_machine_logs(
            self, "Logs", app_name=app_name, name="orders", days=log_retention_days
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=ORDER_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )

    def _set_status(
        self,
        name: str,
        status: str,
        *,
        reason: str | None = None,
        also: list[tuple[str, dict[str, Any]]] | None = None,
        catch: sfn.IChainable | None = None,
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
                self,
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
        entries = [
            tasks.EventBridgePutEventsEntry(
                event_bus=self._bus,
                source=SOURCE,
                detail_type=detail_type,
                detail=sfn.TaskInput.from_object(detail),
            )
            for detail_type, detail in [("OrderStatusChanged", changed), *(also or [])]
        ]
        publish = retry_transient(
            tasks.EventBridgePutEvents(
                self, f"Publish{name}", entries=entries, result_path=sfn.JsonPath.DISCARD
            ),
            EVENTS_TRANSIENT,
        )
        # On the failure path itself there is nothing left to compensate: fail visibly instead.
        handler = catch or sfn.Fail(
            self, f"{name}NotRecorded", error="StatusNotRecorded", cause=f"Could not record status {status}"
        )
        update.add_catch(handler, errors=["States.ALL"], result_path="$.error" if catch else "$.statusError")
        publish.add_catch(handler, errors=["States.ALL"], result_path="$.error" if catch else "$.statusError")
        return update.next(publish)
