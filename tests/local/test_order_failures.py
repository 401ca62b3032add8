"""The order flow under duplicates, failures and forgeries, end to end through localcloud.

A duplicate OrderPlaced, a payment service that keeps failing, a forged PaymentCharged, an order
stuck past its deadline, and a retried first step: each ends where docs/order-failures.md says.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.local.conftest import Local
from tests.local.test_order_flow import FINAL, PRICE_CENTS, Shop, sku

pytestmark = pytest.mark.local


@pytest.fixture(scope="module")
def shop(local: Local) -> Shop:
    return Shop(local)


def order_placed_again(shop: Shop, order_id: str) -> None:
    """Puts the order's OrderPlaced on the bus again, as a duplicate delivery or a replay would."""
    row = shop.dynamodb.get_item(
        TableName=shop.local.output("OrdersTableName"), Key={"orderId": {"S": order_id}}, ConsistentRead=True
    )["Item"]
    detail = {
        "version": "1.0",
        "orderId": order_id,
        "customerId": row["customerId"]["S"],
        "lines": [
            {k: (v["S"] if "S" in v else int(v["N"])) for k, v in line["M"].items()}
            for line in row["lines"]["L"]
        ],
        "currency": row["currency"]["S"],
        "totalCents": int(row["totalCents"]["N"]),
        "paymentRef": row["paymentRef"]["S"],
        "placedAt": row["createdAt"]["S"],
    }
    entry = {
        "Source": "myapp.orders",
        "DetailType": "OrderPlaced",
        "Detail": json.dumps(detail),
        "EventBusName": shop.local.output("EventBusName"),
    }
    assert shop.local.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0


def test_a_duplicate_order_placed_completes_the_order_once(shop: Shop) -> None:
    # Given an order that completed
    item, customer = sku(), f"dup-{uuid.uuid4().hex[:6]}"
    shop.stock(item, 10)
    shop.notifications()
    order_id = shop.place(item, quantity=2, customer=customer).body["orderId"]
    shop.local.settle()
    assert shop.order(order_id)["status"] == "COMPLETED"
    # When the same OrderPlaced is delivered again, twice
    order_placed_again(shop, order_id)
    order_placed_again(shop, order_id)
    shop.local.settle()
    # Then the later runs found the order taken: one completion, one charge, one entry, one count
    assert shop.order(order_id)["status"] == "COMPLETED"
    notices = shop.notifications()
    assert sum(f"OrderCompleted: order {order_id}" in n for n in notices) == 1, notices
    assert sum(f"Invoice ready: invoices/{order_id}.json" in n for n in notices) == 1, notices
    assert shop.levels(item) == (8, 0, 2)
    entries = shop.dynamodb.scan(
        TableName=shop.local.output("LedgerTableName"),
        FilterExpression="orderId = :o",
        ExpressionAttributeValues={":o": {"S": order_id}},
    )["Items"]
    assert [e["entryId"]["S"] for e in entries] == [f"CHARGE#{order_id}"]
    customer_row = shop.dynamodb.get_item(
        TableName=shop.local.output("CustomersTableName"), Key={"customerId": {"S": customer}}
    )["Item"]
    assert int(customer_row["orderCount"]["N"]) == 1
    sfn = shop.local.client("stepfunctions")
    runs = [
        sfn.describe_execution(executionArn=e["executionArn"])
        for e in sfn.list_executions(stateMachineArn=shop.local.output("OrderWorkflowArn"))["executions"]
    ]
    mine = [r for r in runs if order_id in r.get("input", "")]
    assert len(mine) == 3 and {r["status"] for r in mine} == {"SUCCEEDED"}


def test_a_payment_service_that_keeps_failing_parks_the_message_and_fails_the_order(shop: Shop) -> None:
    # Given a payment function that fails every invocation (a poison batch, a broken deploy)
    fault = shop.local.call(
        "POST",
        "/_localcloud/faults",
        {
            "faults": [
                {
                    "function": shop.local.output("PaymentFunctionName"),
                    "effect": "error",
                    "errorType": "Poison",
                }
            ]
        },
    )["faults"][0]["id"]
    sqs = shop.local.client("sqs")
    dlq = shop.local.output("PaymentDlqUrl")
    try:
        item = sku()
        shop.stock(item, 3)
        order_id = shop.place(item).body["orderId"]
        # When its payment message has been received maxReceiveCount times
        parked = wait_for(
            lambda: sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages"), 120
        )
    finally:
        shop.local.call("DELETE", f"/_localcloud/faults?id={fault}")
    # Then it is parked in the DLQ (alarmed), naming the order by reference, never the token
    [message] = parked
    body = json.loads(message["Body"])
    assert body["orderId"] == order_id and "paymentRef" in body and "tok_visa" not in message["Body"]
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    # And the order ends FAILED once the workflow stops waiting, its stock released, nothing charged
    order = wait_for(lambda: (o := shop.order(order_id))["status"] in FINAL and o, 240)
    # (the heartbeat or the task's timeout, whichever localcloud's floor lets fire first)
    assert order["status"] == "FAILED" and order["reason"] in {"States.HeartbeatTimeout", "States.Timeout"}, (
        order
    )
    shop.local.settle()
    assert shop.levels(item) == (3, 0, 0)
    assert shop.ledger(f"CHARGE#{order_id}") is None


def test_a_forged_payment_charged_is_parked_not_recorded(shop: Shop) -> None:
    # Given a PaymentCharged for an order the payments table knows nothing of
    order_id = str(uuid.uuid4())
    detail = {
        "version": "1.0",
        "orderId": order_id,
        "chargeId": "ch_forged",
        "amountCents": 100000,
        "currency": "EUR",
        "chargedAt": "2026-11-22T10:00:00.000Z",
    }
    entry = {
        "Source": "myapp.payments",
        "DetailType": "PaymentCharged",
        "Detail": json.dumps(detail),
        "EventBusName": shop.local.output("EventBusName"),
    }
    # When it is put on the bus
    assert shop.local.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0
    shop.local.settle()
    # Then accounting refuses it after its retries: parked in its OnFailure DLQ with the reason
    sqs = shop.local.client("sqs")
    dlq = shop.local.output("AccountingFailureDlqUrl")
    parked = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages"), 60)
    mine = [m for m in parked if order_id in m["Body"]]
    assert mine and "UnconfirmedPayment" in mine[0]["Body"], parked
    for message in parked:
        sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    # And the ledger has nothing of it
    assert shop.ledger(f"CHARGE#{order_id}") is None


def test_the_sweeper_hands_an_order_stuck_past_its_deadline_to_an_operator(shop: Shop) -> None:
    # Given an order left RESERVED three hours ago (its workflow is long gone)
    order_id = str(uuid.uuid4())
    shop.dynamodb.put_item(
        TableName=shop.local.output("OrdersTableName"),
        Item={
            "orderId": {"S": order_id},
            "customerId": {"S": "c-stuck"},
            "status": {"S": "RESERVED"},
            "updatedAt": {"S": "2020-01-01T00:00:00.000Z"},
        },
    )
    shop.notifications()
    # When the sweeper's schedule fires
    rule = shop.local.output("OrderSweeperRuleName")
    fired = shop.local.call("POST", f"/_localcloud/schedules/{rule}")
    assert "error" not in fired, fired
    shop.local.settle()
    # Then the order needs attention, and OrderNeedsAttention reached the notification topic
    order = shop.dynamodb.get_item(
        TableName=shop.local.output("OrdersTableName"), Key={"orderId": {"S": order_id}}, ConsistentRead=True
    )["Item"]
    assert order["status"]["S"] == "NEEDS_ATTENTION"
    assert order["reason"]["S"] == "stuck in RESERVED past its deadline"
    assert any(f"OrderNeedsAttention: order {order_id}" in n for n in shop.notifications())


def test_a_retried_take_that_finds_its_own_first_write_carries_on(shop: Shop) -> None:
    # Given an order this execution took already (its first write landed, the answer was lost)
    item, order_id, name = sku(), str(uuid.uuid4()), f"retake-{uuid.uuid4().hex[:8]}"
    shop.stock(item, 3)
    machine = shop.local.output("OrderWorkflowArn")
    execution_arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
    line = {"M": {"sku": {"S": item}, "quantity": {"N": "1"}, "unitPriceCents": {"N": str(PRICE_CENTS)}}}
    shop.dynamodb.put_item(
        TableName=shop.local.output("OrdersTableName"),
        Item={
            "orderId": {"S": order_id},
            "customerId": {"S": "c-retake"},
            "status": {"S": "PROCESSING"},
            "executionArn": {"S": execution_arn},
            "lines": {"L": [line]},
            "currency": {"S": "EUR"},
            "totalCents": {"N": str(PRICE_CENTS)},
            "paymentRef": {"S": "pay_" + uuid.uuid4().hex},  # no token stored under it
            "createdAt": {"S": "2026-11-22T10:00:00.000Z"},
            "updatedAt": {"S": "2026-11-22T10:00:00.000Z"},
        },
    )
    # When that execution runs (its take finds the order PROCESSING, owned by itself)
    shop.local.client("stepfunctions").start_execution(
        stateMachineArn=machine, name=name, input=json.dumps({"detail": {"orderId": order_id}})
    )
    shop.local.settle()

    # Then it carried on with the stored order: reserved, asked for payment (no token: refused),
    # compensated, and the order ended FAILED with its stock back
    def stored() -> dict[str, Any]:
        item = shop.dynamodb.get_item(
            TableName=shop.local.output("OrdersTableName"),
            Key={"orderId": {"S": order_id}},
            ConsistentRead=True,
        )["Item"]
        return {key: next(iter(value.values())) for key, value in item.items()}

    order = wait_for(lambda: (o := stored())["status"] in FINAL and o, 120)
    assert (order["status"], order["reason"]) == ("FAILED", "PaymentTokenMissing"), order
    assert shop.levels(item) == (3, 0, 0)


def wait_for(found: Any, seconds: float) -> Any:
    """Polls until `found()` is truthy (bounded generously: a loaded machine is slow, not wrong)."""
    deadline = time.monotonic() + seconds
    while True:
        value = found()
        if value:
            return value
        assert time.monotonic() < deadline, f"nothing after {seconds} s"
        time.sleep(1)
