"""Steps the order workflows share: conditional status transitions, typed-to-plain lines, retry lists.

Every status write is conditional on the order's owner (`executionArn`, set by the parent's first
step) and on the status expected before it. The target status is accepted as "before" too, so a
rerun of an Express child (they run at least once) repeats its writes harmlessly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.constructs.workflow import DYNAMODB_TRANSIENT, retry_transient

CONDITION_FAILED = "DynamoDB.ConditionalCheckFailedException"

ORDER_ID = "$.order.orderId"
OWNER = "$.order.executionArn"
NOW = "$$.State.EnteredTime"


def string(path: str) -> tasks.DynamoAttributeValue:
    return tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at(path))


@dataclass(frozen=True)
class Transition:
    """A status change: from any of `before` (or already at `to`), with what else it records."""

    to: str
    before: Sequence[str]
    reason: str | None = None  # a literal, or a JsonPath (`$.error.Error`)
    also: tuple[tuple[str, tasks.DynamoAttributeValue], ...] = ()


def transition(
    scope: Construct, construct_id: str, *, orders: dynamodb.ITable, change: Transition
) -> sfn.TaskStateBase:
    """DynamoDB UpdateItem of the order's status, conditional on its owner and its status."""
    names = {"#status": "status"}
    values: dict[str, tasks.DynamoAttributeValue] = {
        ":to": tasks.DynamoAttributeValue.from_string(change.to),
        ":now": string(NOW),
        ":owner": string(OWNER),
    }
    accepted = []
    for index, status in enumerate(change.before):
        values[f":from{index}"] = tasks.DynamoAttributeValue.from_string(status)
        accepted.append(f":from{index}")
    sets = ["#status = :to", "updatedAt = :now"]
    if change.reason is not None:
        names["#reason"] = "reason"
        reason = change.reason
        values[":reason"] = (
            string(reason) if reason.startswith("$") else tasks.DynamoAttributeValue.from_string(reason)
        )
        sets.append("#reason = :reason")
    for index, (attribute, value) in enumerate(change.also):
        names[f"#also{index}"] = attribute
        values[f":also{index}"] = value
        sets.append(f"#also{index} = :also{index}")
    task = tasks.DynamoUpdateItem(
        scope,
        construct_id,
        table=orders,
        key={"orderId": string(ORDER_ID)},
        update_expression="SET " + ", ".join(sets),
        condition_expression=f"executionArn = :owner AND #status IN ({', '.join([*accepted, ':to'])})",
        expression_attribute_names=names,
        expression_attribute_values=values,
        result_path=sfn.JsonPath.DISCARD,
    )
    return retry_transient(task, DYNAMODB_TRANSIENT)


def plain_lines(scope: Construct, construct_id: str, *, result_path: str, picked: bool = False) -> sfn.Map:
    """The order's lines as the table holds them (`{"M": {"sku": {"S": ..}, ...}}`) made plain JSON."""
    fields = {
        "sku.$": "$$.Map.Item.Value.M.sku.S",
        "quantity.$": "States.StringToJson($$.Map.Item.Value.M.quantity.N)",
        "unitPriceCents.$": "States.StringToJson($$.Map.Item.Value.M.unitPriceCents.N)",
    }
    line = sfn.Pass(
        scope,
        f"{construct_id}Line",
        parameters={
            "sku.$": "$.sku",
            "quantity.$": "$.quantity",
            "unitPriceCents.$": "$.unitPriceCents",
            **({"picked": True} if picked else {}),
        },
    )
    return sfn.Map(
        scope,
        construct_id,
        items_path="$.order.lines",
        item_selector=fields,
        result_path=result_path,
        max_concurrency=10,
    ).item_processor(line)


def bounded_retry(task: sfn.TaskStateBase, errors: list[str], *, attempts: int = 2) -> sfn.TaskStateBase:
    """A retry for an error that is only sometimes transient (e.g. a cancelled transaction)."""
    task.add_retry(errors=errors, interval=Duration.seconds(1), max_attempts=attempts, backoff_rate=2)
    return task
