"""The order workflow's Express children: prepare (decision tree + reservation), fulfill, compensate.

Express runs at least once, so each step is idempotent: the reservation, the stock commit and the
release are marked per order in the inventory table; the invoice is written with `If-None-Match`;
COMPLETED and the customer's `orderCount` are one transaction, conditional on PAID; every status
write is a conditional transition (order_steps.py). The children write the orders table only: the
table's stream (the outbox) publishes the order events.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.constructs.order_steps import (
    NOW,
    ORDER_ID,
    OWNER,
    Transition,
    bounded_retry,
    plain_lines,
    string,
    transition,
)
from stacks.constructs.workflow import (
    DYNAMODB_SDK_TRANSIENT,
    DYNAMODB_TRANSIENT,
    LAMBDA_TRANSIENT,
    S3_TRANSIENT,
    logged_state_machine,
    retry_transient,
)

CHILD_TIMEOUT = Duration.minutes(5)
INVOICE_KEY = "States.Format('invoices/{}.json', $.order.orderId)"


@dataclass(frozen=True, kw_only=True)
class ChildResources:
    """What the children work on."""

    orders: dynamodb.ITable
    customers: dynamodb.ITable
    inventory_fn: lambda_.IFunction
    refund_fn: lambda_.IFunction
    invoices: s3.IBucket
    app_name: str
    log_retention_days: int


def express(
    scope: Construct, construct_id: str, *, definition: sfn.IChainable, name: str, res: ChildResources
) -> sfn.StateMachine:
    """An Express child workflow: short, idempotent steps."""
    return logged_state_machine(
        scope,
        construct_id,
        definition=definition,
        type_=sfn.StateMachineType.EXPRESS,
        timeout=CHILD_TIMEOUT,
        app_name=res.app_name,
        name=name,
        days=res.log_retention_days,
    )


def failed_state(scope: Construct, name: str) -> sfn.Fail:
    """Ends a child with the cause of the error that stopped it, so the parent's Catch sees why.

    The error name is the state's own: a Fail state may not raise a `States.*` name itself.
    """
    return sfn.Fail(scope, name, error=name, cause_path="$.error.Cause")


def inventory(
    scope: Construct, construct_id: str, action: str, res: ChildResources, **extra: object
) -> sfn.TaskStateBase:
    return retry_transient(
        tasks.LambdaInvoke(
            scope,
            construct_id,
            lambda_function=res.inventory_fn,
            payload=sfn.TaskInput.from_object(
                {"action": action, "orderId": sfn.JsonPath.string_at(ORDER_ID), **extra}
            ),
            result_path=sfn.JsonPath.DISCARD,
            retry_on_service_exceptions=False,
        ),
        LAMBDA_TRANSIENT,
    )


def prepare_workflow(scope: Construct, res: ChildResources) -> sfn.StateMachine:
    """Express: the customer decision tree, then the stock reservation, then RESERVED (or REJECTED)."""
    failed = failed_state(scope, "PrepareFailed")

    def rejected(name: str, reason: str) -> sfn.IChainable:
        change = Transition(to="REJECTED", before=["PROCESSING"], reason=reason)
        write = transition(scope, f"SetRejected{name}", orders=res.orders, change=change)
        write.add_catch(failed, errors=["States.ALL"], result_path="$.error")
        return write.next(
            sfn.Pass(
                scope, f"Rejected{name}Outcome", parameters={"outcome": "REJECTED", "reason": reason}
            ).next(sfn.Succeed(scope, f"Rejected{name}Done"))
        )

    get_customer = retry_transient(
        tasks.DynamoGetItem(
            scope,
            "GetCustomer",
            table=res.customers,
            key={"customerId": string("$.order.customerId")},
            result_path="$.customer",
        ),
        DYNAMODB_TRANSIENT,
    )
    get_customer.add_catch(failed, errors=["States.ALL"], result_path="$.error")
    reserve = inventory(scope, "ReserveInventory", "reserve", res, lines=sfn.JsonPath.list_at("$.lines"))
    reserve.add_catch(rejected("OutOfStock", "out of stock"), errors=["OutOfStock"], result_path="$.error")
    reserve.add_catch(failed, errors=["States.ALL"], result_path="$.error")
    set_reserved = transition(
        scope, "SetReserved", orders=res.orders, change=Transition(to="RESERVED", before=["PROCESSING"])
    )
    set_reserved.add_catch(failed, errors=["States.ALL"], result_path="$.error")
    decide = (
        sfn.Choice(scope, "CustomerStatus")
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
                scope, "Returning", result=sfn.Result.from_string("RETURNING"), result_path="$.customerStatus"
            ),
        )
        .otherwise(
            sfn.Pass(scope, "New", result=sfn.Result.from_string("NEW"), result_path="$.customerStatus")
        )
        .afterwards()
    )
    definition = (
        get_customer.next(decide)
        .next(plain_lines(scope, "ReadLines", result_path="$.lines"))
        .next(reserve)
        .next(set_reserved)
        .next(sfn.Pass(scope, "ReservedOutcome", parameters={"outcome": "RESERVED"}))
    )
    return express(scope, "PrepareWorkflow", definition=definition, name="order-prepare", res=res)


def fulfillment_workflow(scope: Construct, res: ChildResources) -> sfn.StateMachine:
    """Express: PAID → pick the lines → invoice in S3 (once) → stock sold → COMPLETED + orderCount."""
    failed = failed_state(scope, "FulfillmentFailed")
    set_paid = transition(
        scope, "SetPaid", orders=res.orders, change=Transition(to="PAID", before=["RESERVED"])
    )
    build_invoice = sfn.Pass(
        scope,
        "BuildInvoice",
        parameters={
            "orderId.$": ORDER_ID,
            "customerId.$": "$.order.customerId",
            "lines.$": "$.picked",
            "currency.$": "$.order.currency",
            "totalCents.$": "$.order.totalCents",
            "placedAt.$": "$.order.placedAt",
        },
        result_path="$.invoice",
    )
    # Written once: a rerun's put is refused (412), so S3 sends no second "Object Created" (and no
    # second invoice notice); the refusal is then checked to be "it exists" and not another error.
    write_invoice = retry_transient(
        tasks.CallAwsService(
            scope,
            "WriteInvoice",
            service="s3",
            action="putObject",
            parameters={
                "Bucket": res.invoices.bucket_name,
                "Key.$": INVOICE_KEY,
                "Body.$": "States.JsonToString($.invoice)",
                "ContentType": "application/json",
                "IfNoneMatch": "*",
            },
            iam_resources=[res.invoices.arn_for_objects("invoices/*")],
            result_path=sfn.JsonPath.DISCARD,
        ),
        S3_TRANSIENT,
    )
    invoice_exists = retry_transient(
        tasks.CallAwsService(
            scope,
            "InvoiceExists",
            service="s3",
            action="headObject",
            iam_action="s3:GetObject",
            parameters={"Bucket": res.invoices.bucket_name, "Key.$": INVOICE_KEY},
            iam_resources=[res.invoices.arn_for_objects("invoices/*")],
            result_path=sfn.JsonPath.DISCARD,
        ),
        S3_TRANSIENT,
    )
    commit_stock = inventory(scope, "CommitStock", "commit", res)
    complete = bounded_retry(
        retry_transient(
            tasks.CallAwsService(
                scope,
                "CompleteAndCount",
                service="dynamodb",
                action="transactWriteItems",
                # TransactWriteItems is authorized per item action, not as an action of its own.
                iam_action="dynamodb:UpdateItem",
                iam_resources=[res.orders.table_arn, res.customers.table_arn],
                parameters={
                    "TransactItems": [
                        {
                            "Update": {
                                "TableName": res.orders.table_name,
                                "Key": {"orderId": {"S.$": ORDER_ID}},
                                "UpdateExpression": "SET #status = :completed, invoiceKey = :key, "
                                "updatedAt = :now",
                                "ConditionExpression": "executionArn = :owner AND #status = :paid",
                                "ExpressionAttributeNames": {"#status": "status"},
                                "ExpressionAttributeValues": {
                                    ":completed": {"S": "COMPLETED"},
                                    ":paid": {"S": "PAID"},
                                    ":owner": {"S.$": OWNER},
                                    ":key": {"S.$": INVOICE_KEY},
                                    ":now": {"S.$": NOW},
                                },
                            }
                        },
                        {
                            # Counted in the same transaction as COMPLETED: exactly once per order.
                            "Update": {
                                "TableName": res.customers.table_name,
                                "Key": {"customerId": {"S.$": "$.order.customerId"}},
                                "UpdateExpression": "ADD orderCount :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}},
                            }
                        },
                    ]
                },
                result_path=sfn.JsonPath.DISCARD,
            ),
            DYNAMODB_SDK_TRANSIENT,
        ),
        # Cancelled by a conflicting write (worth another try) or by the condition (a rerun: checked below).
        ["DynamoDb.TransactionCanceledException"],
    )
    check_completed = retry_transient(
        tasks.DynamoGetItem(
            scope,
            "ReadCompleted",
            table=res.orders,
            key={"orderId": string(ORDER_ID)},
            consistent_read=True,
            result_path="$.current",
        ),
        DYNAMODB_TRANSIENT,
    )
    fulfilled = sfn.Pass(scope, "Fulfilled", parameters={"invoiceKey.$": INVOICE_KEY})
    already_completed = (
        sfn.Choice(scope, "CompletedBefore")
        .when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.current.Item.status.S", "COMPLETED"),
                sfn.Condition.string_equals_json_path("$.current.Item.executionArn.S", OWNER),
            ),
            fulfilled,
        )
        .otherwise(
            sfn.Fail(scope, "NotCompleted", error="OrderNotCompleted", cause="the order moved on meanwhile")
        )
    )
    complete.add_catch(
        check_completed, errors=["DynamoDb.TransactionCanceledException"], result_path="$.error"
    )
    write_invoice.add_catch(invoice_exists, errors=["S3.S3Exception"], result_path="$.invoiceError")
    for task in (set_paid, write_invoice, invoice_exists, commit_stock, complete, check_completed):
        task.add_catch(failed, errors=["States.ALL"], result_path="$.error")
    invoice_exists.next(commit_stock)
    check_completed.next(already_completed)
    definition = (
        set_paid.next(plain_lines(scope, "PickLines", result_path="$.picked", picked=True))
        .next(build_invoice)
        .next(write_invoice)
        .next(commit_stock)
        .next(complete)
        .next(fulfilled)
    )
    return express(scope, "Fulfillment", definition=definition, name="fulfillment", res=res)


def compensation_workflow(scope: Construct, res: ChildResources) -> sfn.StateMachine:
    """Express: release the stock (reserved or sold), refund any charge (or leave a tombstone), FAILED."""
    failed = failed_state(scope, "CompensationStepFailed")
    release = inventory(scope, "ReleaseInventory", "release", res)
    refund = retry_transient(
        tasks.LambdaInvoke(
            scope,
            "Refund",
            lambda_function=res.refund_fn,
            payload=sfn.TaskInput.from_object({"orderId": sfn.JsonPath.string_at(ORDER_ID)}),
            result_selector={
                "refunded.$": "$.Payload.refunded",
                "refundedCents.$": "$.Payload.refundedCents",
            },
            result_path="$.refund",
            retry_on_service_exceptions=False,
        ),
        LAMBDA_TRANSIENT,
    )
    record = transition(
        scope,
        "SetFailed",
        orders=res.orders,
        change=Transition(
            to="FAILED",
            before=["PROCESSING", "RESERVED", "PAID"],
            reason="$.error.Error",
            also=(
                ("refunded", tasks.DynamoAttributeValue.boolean_from_json_path("$.refund.refunded")),
                (
                    "refundedCents",
                    tasks.DynamoAttributeValue.number_from_string(
                        sfn.JsonPath.json_to_string(sfn.JsonPath.number_at("$.refund.refundedCents"))
                    ),
                ),
            ),
        ),
    )
    for task in (release, refund, record):
        task.add_catch(failed, errors=["States.ALL"], result_path="$.error")
    definition = (
        release.next(refund)
        .next(record)
        .next(sfn.Pass(scope, "Compensated", parameters={"outcome": "FAILED"}))
    )
    return express(scope, "Compensation", definition=definition, name="compensation", res=res)
