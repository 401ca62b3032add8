"""The order flow end to end through localcloud: API → OrderPlaced → workflow → payment → fulfillment."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.local.api import Response, call
from tests.local.conftest import Local

pytestmark = pytest.mark.local

FINAL = {"COMPLETED", "FAILED", "REJECTED"}


class Shop:
    """The order flow's API and data, as a front end and an operator see them."""

    def __init__(self, local: Local) -> None:
        self.local = local
        self.api_url = local.output("ApiUrl")
        self.dynamodb = local.client("dynamodb")

    def stock(self, sku: str, available: int, price_cents: int = 1250) -> None:
        self.dynamodb.put_item(
            TableName=self.local.output("InventoryTableName"),
            Item={
                "sku": {"S": sku},
                "available": {"N": str(available)},
                "reserved": {"N": "0"},
                "sold": {"N": "0"},
                "priceCents": {"N": str(price_cents)},
                "currency": {"S": "EUR"},
            },
        )

    def levels(self, sku: str) -> tuple[int, int, int]:
        """(available, reserved, sold): their sum never changes."""
        item = self.dynamodb.get_item(
            TableName=self.local.output("InventoryTableName"), Key={"sku": {"S": sku}}, ConsistentRead=True
        )["Item"]
        return int(item["available"]["N"]), int(item["reserved"]["N"]), int(item.get("sold", {"N": "0"})["N"])

    def available(self, sku: str) -> int:
        item = self.dynamodb.get_item(
            TableName=self.local.output("InventoryTableName"), Key={"sku": {"S": sku}}
        )
        return int(item["Item"]["available"]["N"])

    def block(self, customer_id: str) -> None:
        self.dynamodb.put_item(
            TableName=self.local.output("CustomersTableName"),
            Item={"customerId": {"S": customer_id}, "blocked": {"BOOL": True}},
        )

    def place(
        self,
        sku: str,
        *,
        quantity: int = 1,
        token: str = "tok_visa",
        customer: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        # The caller (an IAM principal here) orders for a customer explicitly; the catalogue prices it.
        body = {
            "lines": [{"sku": sku, "quantity": quantity}],
            "currency": "EUR",
            "paymentToken": token,
            "onBehalfOf": customer or f"c-{uuid.uuid4().hex[:8]}",
        }
        return call(self.api_url, "POST", "/orders", body, headers)

    def order(self, order_id: str) -> dict[str, Any]:
        response = call(self.api_url, "GET", f"/orders/{order_id}")
        assert response.status == 200, response
        return dict(response.body)

    def ledger(self, entry_id: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.local.output("LedgerTableName"), Key={"entryId": {"S": entry_id}}
        )
        return item.get("Item")

    def notifications(self) -> list[str]:
        sqs = self.local.client("sqs")
        url = self.local.output("OrderNotificationSubscriberQueueUrl")
        bodies: list[str] = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            bodies += [m["Body"] for m in batch]
            for message in batch:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    def statuses_published(self, order_id: str, since: int) -> list[str]:
        return [
            json.loads(r["payload"])["status"]
            for r in self.local.trace(since=since, kind="iot")
            if r["topic"] == f"orders/{order_id}/status"
        ]

    def queue_depth(self, output: str) -> int:
        attributes = self.local.client("sqs").get_queue_attributes(
            QueueUrl=self.local.output(output),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


@pytest.fixture(scope="module")
def shop(local: Local) -> Shop:
    return Shop(local)


def sku() -> str:
    return f"SKU-{uuid.uuid4().hex[:8].upper()}"


def test_an_order_completes_with_invoice_ledger_notifications_and_live_status(shop: Shop) -> None:
    # Given stock for the item
    item = sku()
    shop.stock(item, 10)
    shop.notifications()
    since = shop.local.last_seq()
    # When a front end places an order
    placed = shop.place(item, quantity=2)
    # Then it is accepted at once with its id, and after the flow runs it is COMPLETED
    assert placed.status == 202, placed
    assert placed.headers["Location"].endswith(f"/orders/{placed.body['orderId']}")
    order_id = placed.body["orderId"]
    shop.local.settle()
    order = shop.order(order_id)
    assert order["status"] == "COMPLETED", order
    assert "paymentToken" not in order
    # And the invoice is in S3, under the key the order records
    invoice = shop.local.client("s3").get_object(
        Bucket=shop.local.output("InvoiceBucketName"), Key=order["invoiceKey"]
    )
    assert json.loads(invoice["Body"].read())["orderId"] == order_id
    # And the stock moved from available to sold, the ledger has the charge
    assert shop.levels(item) == (8, 0, 2)
    charge = shop.ledger(f"CHARGE#{order_id}")
    assert charge is not None and int(charge["amountCents"]["N"]) == 2500
    # And the service subscriber heard of the completion and of the invoice
    notices = shop.notifications()
    assert any(f"OrderCompleted: order {order_id}" in n for n in notices), notices
    assert any(f"Invoice ready: invoices/{order_id}.json" in n for n in notices), notices
    # And the front end saw each status on orders/{id}/status
    assert shop.statuses_published(order_id, since) == ["PROCESSING", "RESERVED", "PAID", "COMPLETED"]


def test_a_blocked_customer_is_rejected_without_touching_stock(shop: Shop) -> None:
    item, customer = sku(), f"blocked-{uuid.uuid4().hex[:6]}"
    shop.stock(item, 5)
    shop.block(customer)
    order_id = shop.place(item, customer=customer).body["orderId"]
    shop.local.settle()
    order = shop.order(order_id)
    assert (order["status"], order["reason"]) == ("REJECTED", "customer is blocked")
    assert shop.available(item) == 5


def test_an_order_beyond_stock_is_rejected(shop: Shop) -> None:
    item = sku()
    shop.stock(item, 1)
    order_id = shop.place(item, quantity=3).body["orderId"]
    shop.local.settle()
    order = shop.order(order_id)
    assert (order["status"], order["reason"]) == ("REJECTED", "out of stock")
    assert shop.available(item) == 1


def test_a_declined_payment_fails_the_order_and_releases_the_stock(shop: Shop) -> None:
    item = sku()
    shop.stock(item, 4)
    order_id = shop.place(item, quantity=3, token="tok_declined").body["orderId"]
    shop.local.settle()
    order = shop.order(order_id)
    assert (order["status"], order["reason"]) == ("FAILED", "PaymentDeclined")
    assert shop.levels(item) == (4, 0, 0)
    assert shop.ledger(f"CHARGE#{order_id}") is None


def test_a_transient_payment_failure_is_retried_by_the_workflow(shop: Shop) -> None:
    item = sku()
    shop.stock(item, 2)
    since = shop.local.last_seq()
    order_id = shop.place(item, token="tok_transient").body["orderId"]
    shop.local.settle()
    assert shop.order(order_id)["status"] == "COMPLETED"
    charges = [r for r in shop.local.trace(since=since, kind="esm") if "Payment" in r["message"]]
    assert len(charges) >= 2, "the first charge failed transiently and a second one was made"


def test_the_same_post_twice_with_one_idempotency_key_is_one_order(shop: Shop) -> None:
    item = sku()
    shop.stock(item, 10)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    customer = f"c-{uuid.uuid4().hex[:8]}"
    first = shop.place(item, customer=customer, headers=key)
    second = shop.place(item, customer=customer, headers=key)
    assert (first.status, second.status) == (202, 202)
    assert first.body == second.body
    shop.local.settle()
    assert shop.available(item) == 9


def test_invalid_requests_are_rejected_with_what_is_wrong(shop: Shop) -> None:
    # API Gateway's own model check: a body that breaks the model never reaches the function
    bad = call(shop.api_url, "POST", "/orders", {"customerId": "c-1", "lines": [], "currency": "EUR"})
    assert bad.status == 400 and bad.body == {"message": "Invalid request body"}
    # An unknown order
    missing = call(shop.api_url, "GET", f"/orders/{uuid.uuid4()}")
    assert missing.status == 404
    # An unsigned request
    unsigned = shop.local.call("GET", f"{shop.api_url.split(shop.local.endpoint)[1].rstrip('/')}/orders/x")
    assert unsigned == {"message": "Missing Authentication Token"}


def test_a_poison_payment_message_is_parked_in_the_payment_dlq(shop: Shop) -> None:
    sqs = shop.local.client("sqs")
    sqs.send_message(QueueUrl=shop.local.output("PaymentQueueUrl"), MessageBody="{not a payment request")
    shop.local.settle()
    dlq = shop.local.output("PaymentDlqUrl")
    messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    )
    assert [m["Body"] for m in messages] == ["{not a payment request"]
    assert int(messages[0]["Attributes"]["ApproximateReceiveCount"]) >= 5
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=messages[0]["ReceiptHandle"])


def test_a_burst_of_200_orders_all_reach_a_final_state(shop: Shop) -> None:
    # Given stock for 150 of 200 orders
    item = sku()
    shop.stock(item, 150)
    # When 200 orders arrive at once, from 8 clients
    with ThreadPoolExecutor(8) as clients:
        placed = list(clients.map(lambda _: shop.place(item), range(200)))
    assert all(p.status == 202 for p in placed)
    shop.local.settle(timeout=300)
    # Then every order is in a final state: 150 completed, 50 rejected for stock; nothing lost
    statuses = Counter(shop.order(p.body["orderId"])["status"] for p in placed)
    assert statuses == {"COMPLETED": 150, "REJECTED": 50}, statuses
    assert shop.available(item) == 0
    for queue in ("PaymentQueueUrl", "PaymentDlqUrl"):
        assert shop.queue_depth(queue) == 0, queue
