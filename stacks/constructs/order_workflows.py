"""The order workflow: a short Standard parent that owns the order, and Express children for the rest.

Standard is billed per state transition and Express per run and duration, so the parent keeps only
what needs Standard (taking the order exactly once, a callback that may wait minutes) and nests the
steps that are idempotent and quick as Express workflows (order_children.py): prepare, fulfill and
compensate. docs/cost.md has the numbers.

The parent's first step takes the order: PENDING → PROCESSING, conditional, recording this execution
as the order's owner. A duplicate or replayed OrderPlaced finds the order taken and ends quietly. The
order is read from that write's result, never from the event.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.constructs.order_children import (
    ChildResources,
    compensation_workflow,
    fulfillment_workflow,
    prepare_workflow,
)
from stacks.constructs.order_steps import CONDITION_FAILED, NOW, OWNER, string
from stacks.constructs.workflow import (
    DYNAMODB_TRANSIENT,
    STEPFUNCTIONS_TRANSIENT,
    logged_state_machine,
    retry_transient,
)

# The heartbeat's clock starts when the payment message is sent, so it must cover the worst wait in
# the queue plus one charge. The service drains at least PAYMENT_CONCURRENCY (2) batches of 10 per
# function timeout (30 s), i.e. 40 messages a minute even if every batch ran to its timeout
# (~400 a minute at the provider's usual pace): 10 minutes covers a backlog of 400 payments at the
# worst pace. The service heartbeats as it starts, so the charge itself gets a fresh window. A longer
# wait fails the order (compensated: refunded if the charge lands later) and the unanswered-payments
# alarm (oldest message older than half the heartbeat) has already called an operator.
PAYMENT_HEARTBEAT = Duration.minutes(10)
PAYMENT_TIMEOUT = Duration.minutes(20)
# Above the longest legitimate run (a payment attempt and its 3 retries, plus the children).
ORDER_TIMEOUT = Duration.hours(2)
# An order unchanged this long in a non-final status will not move by itself (its execution has
# timed out): the sweeper hands it to an operator.
ORDER_STUCK_AFTER = Duration.minutes(int(ORDER_TIMEOUT.to_minutes()) + 15)


def order_from(item: str) -> dict[str, str]:
    """The order the workflows work on, from the stored item (server prices, the payment reference)."""
    return {
        "orderId.$": f"{item}.orderId.S",
        "customerId.$": f"{item}.customerId.S",
        "currency.$": f"{item}.currency.S",
        "totalCents.$": f"States.StringToJson({item}.totalCents.N)",
        "paymentRef.$": f"{item}.paymentRef.S",
        "placedAt.$": f"{item}.createdAt.S",
        "lines.$": f"{item}.lines.L",
        "executionArn.$": f"{item}.executionArn.S",
    }


class OrderWorkflow(Construct):
    """Standard parent: take → prepare → payment by task token → fulfill, compensating on any failure."""

    def __init__(
        self, scope: Construct, construct_id: str, *, res: ChildResources, payment_queue: sqs.IQueue
    ) -> None:
        super().__init__(scope, construct_id)
        orders = res.orders
        self.prepare = prepare_workflow(self, res)
        self.fulfillment = fulfillment_workflow(self, res)
        self.compensation = compensation_workflow(self, res)

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

        take = retry_transient(
            tasks.DynamoUpdateItem(
                self,
                "TakeOrder",
                table=orders,
                key={"orderId": string("$.detail.orderId")},
                update_expression="SET #status = :processing, executionArn = :me, updatedAt = :now",
                condition_expression="#status = :pending",
                expression_attribute_names={"#status": "status"},
                expression_attribute_values={
                    ":processing": tasks.DynamoAttributeValue.from_string("PROCESSING"),
                    ":pending": tasks.DynamoAttributeValue.from_string("PENDING"),
                    ":me": string("$$.Execution.Id"),
                    ":now": string(NOW),
                },
                return_values=tasks.DynamoReturnValues.ALL_NEW,
                # The order as stored (server prices, the payment reference), not as the event said.
                result_selector={"order": order_from("$.Attributes")},
                result_path="$",
            ),
            DYNAMODB_TRANSIENT,
        )
        # Left PENDING: the sweeper finds it past its deadline.
        take_failed = sfn.Fail(self, "TakeFailed", error="TakeFailed", cause="the order could not be taken")
        # Taken already: by another execution (a duplicate OrderPlaced: end quietly), or by this one,
        # when a retried write finds its own first attempt's (carry on with the order as stored).
        read_owner = retry_transient(
            tasks.DynamoGetItem(
                self,
                "ReadOwner",
                table=orders,
                key={"orderId": string("$.detail.orderId")},
                consistent_read=True,
                result_selector={"item.$": "$.Item", "me.$": "$$.Execution.Id"},
                result_path="$.current",
            ),
            DYNAMODB_TRANSIENT,
        )
        read_owner.add_catch(take_failed, errors=["States.ALL"], result_path="$.error")
        retaken = sfn.Pass(self, "TakenByThisRun", parameters={"order": order_from("$.current.item")})
        take.add_catch(read_owner, errors=[CONDITION_FAILED], result_path="$.error")
        take.add_catch(take_failed, errors=["States.ALL"], result_path="$.error")
        read_owner.next(
            sfn.Choice(self, "TakenBy")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.current.item.executionArn.S"),
                    sfn.Condition.string_equals_json_path("$.current.item.executionArn.S", "$.current.me"),
                    sfn.Condition.string_equals("$.current.item.status.S", "PROCESSING"),
                ),
                retaken,
            )
            .otherwise(sfn.Succeed(self, "AlreadyTaken"))
        )

        compensation_failed = sfn.Fail(
            self, "CompensationFailed", error="CompensationFailed", cause="Release or refund failed"
        )
        needs_attention = retry_transient(
            tasks.DynamoUpdateItem(
                self,
                "SetNeedsAttention",
                table=orders,
                key={"orderId": string("$.order.orderId")},
                update_expression="SET #status = :attention, #reason = :reason, updatedAt = :now",
                condition_expression="executionArn = :owner AND #status IN (:p, :r, :paid, :attention)",
                expression_attribute_names={"#status": "status", "#reason": "reason"},
                expression_attribute_values={
                    ":attention": tasks.DynamoAttributeValue.from_string("NEEDS_ATTENTION"),
                    ":reason": tasks.DynamoAttributeValue.from_string("compensation failed"),
                    ":p": tasks.DynamoAttributeValue.from_string("PROCESSING"),
                    ":r": tasks.DynamoAttributeValue.from_string("RESERVED"),
                    ":paid": tasks.DynamoAttributeValue.from_string("PAID"),
                    ":owner": string(OWNER),
                    ":now": string(NOW),
                },
                result_path=sfn.JsonPath.DISCARD,
            ),
            DYNAMODB_TRANSIENT,
        )
        needs_attention.add_catch(compensation_failed, errors=["States.ALL"], result_path="$.attentionError")
        needs_attention.next(compensation_failed)
        compensate = run("Compensate", self.compensation, "$.compensation")
        # The stock stays held or the money taken: the order goes to an operator, and the execution
        # fails so the state machine's ExecutionsFailed alarm fires too.
        compensate.add_catch(needs_attention, errors=["States.ALL"], result_path="$.compensationError")
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
                    # A reference: the token itself stays in the PaymentTokens table.
                    "paymentRef": sfn.JsonPath.string_at("$.order.paymentRef"),
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
        # Any failure, a timeout included, compensates: the refund finds a charge that landed, or
        # leaves a tombstone that makes a charge landing later refund itself.
        pay.add_catch(compensated, errors=["States.ALL"], result_path="$.error")
        fulfill = run("Fulfill", self.fulfillment, "$.fulfillment")
        fulfill.add_catch(compensated, errors=["States.ALL"], result_path="$.error")

        retaken.next(prepare)
        definition = take.next(prepare).next(
            sfn.Choice(self, "Prepared")
            .when(
                sfn.Condition.string_equals("$.prepared.output.outcome", "REJECTED"),
                sfn.Succeed(self, "OrderRejectedHandled"),
            )
            .otherwise(pay.next(fulfill).next(sfn.Succeed(self, "OrderCompletedHandled")))
        )
        self.state_machine = logged_state_machine(
            self,
            "StateMachine",
            definition=definition,
            type_=sfn.StateMachineType.STANDARD,
            timeout=ORDER_TIMEOUT,
            app_name=res.app_name,
            name="orders",
            days=res.log_retention_days,
        )
