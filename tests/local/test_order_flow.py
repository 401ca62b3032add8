"""The order flow through localcloud: API → orders table → outbox → OrderPlaced → workflow → payment."""

from __future__ import annotations

import io
import json
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.credentials import Credentials

from tests.local.api import CREDENTIALS, Response, call
from tests.local.conftest import Local
from tests.local.contract_check import app_events, assert_each_keeps_its_contract
from tests.local.flow_tree import flow, nodes
from tools import trace as trace_cli

pytestmark = pytest.mark.local

FINAL = {"COMPLETED", "FAILED", "REJECTED", "NEEDS_ATTENTION"}
PRICE_CENTS = 1250


class Shop:
    """The order flow's API and data, as a front end and an operator see them."""

    def __init__(self, local: Local) -> None:
        self.local = local
        self.api_url = local.output("ApiUrl")
        self.dynamodb = local.client("dynamodb")

    def stock(self, sku: str, available: int, *, price_cents: int = PRICE_CENTS) -> None:
        """A catalogue item: its stock and its price (what intake charges, whatever a client says)."""
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
        credentials: Credentials = CREDENTIALS,
    ) -> Response:
        """POST /orders as a service (SigV4) acting for a customer: no price, no customerId in the body."""
        body = {
            "lines": [{"sku": sku, "quantity": quantity}],
            "currency": "EUR",
            "paymentToken": token,
            "onBehalfOf": customer or f"c-{uuid.uuid4().hex[:8]}",
        }
        return call(self.api_url, "POST", "/orders", body, headers, credentials=credentials)

    def get(self, order_id: str, credentials: Credentials = CREDENTIALS) -> Response:
        return call(self.api_url, "GET", f"/orders/{order_id}", credentials=credentials)

    def order(self, order_id: str) -> dict[str, Any]:
        response = self.get(order_id)
        assert response.status == 200, response
        return dict(response.body)

    def iam_user(self) -> Credentials:
        """A new IAM user in localcloud's IAM and its access key: a caller of its own."""
        iam = self.local.client("iam")
        name = f"caller-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return Credentials(key["AccessKeyId"], key["SecretAccessKey"])

    def published(self, order_id: str, since: int) -> list[dict[str, Any]]:
        """The events about this order that reached a bus."""
        events = [r.get("event") or {} for r in self.local.trace(since=since, kind="event")]
        return [
            e for e in events if isinstance(e.get("detail"), dict) and e["detail"].get("orderId") == order_id
        ]

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


def test_every_event_an_order_puts_on_the_bus_keeps_its_contract(shop: Shop) -> None:
    # Given stock for an item, and the trace's position
    item = sku()
    shop.stock(item, 10)
    since = shop.local.last_seq()
    # When one order completes and another's payment is declined
    completed = shop.place(item, quantity=1).body["orderId"]
    failed = shop.place(item, quantity=1, token="tok_declined").body["orderId"]
    shop.local.settle()
    assert (shop.order(completed)["status"], shop.order(failed)["status"]) == ("COMPLETED", "FAILED")
    # Then every event each put on the app's bus is valid by its contract
    for order_id, expected in (
        (completed, {"OrderPlaced", "OrderStatusChanged", "PaymentCharged", "OrderCompleted"}),
        (failed, {"OrderPlaced", "OrderStatusChanged", "OrderFailed"}),
    ):
        published = assert_each_keeps_its_contract(app_events(shop.local, since, orderId=order_id))
        # And the check covered the events of the flow, not an empty list
        assert expected <= set(published), (order_id, published)


def test_a_blocked_customer_is_rejected_without_touching_stock(shop: Shop) -> None:
    item, customer = sku(), f"blocked-{uuid.uuid4().hex[:6]}"
    shop.stock(item, 5)
    shop.block(customer)
    order_id = shop.place(item, customer=customer).body["orderId"]
    shop.local.settle()
    order = shop.order(order_id)
    assert (order["status"], order["reason"]) == ("REJECTED", "customer is blocked")
    assert shop.available(item) == 5
    # And the outbox published the outcome from the table's transition
    assert any(f"OrderRejected: order {order_id}" in n for n in shop.notifications())


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
    # And the outbox published OrderFailed (nothing refunded: nothing was charged)
    assert any(f"OrderFailed: order {order_id}" in n for n in shop.notifications())


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
    bad = call(shop.api_url, "POST", "/orders", {"lines": [], "currency": "EUR"})
    assert bad.status == 400 and bad.body == {"message": "Invalid request body"}
    # An unknown order
    missing = call(shop.api_url, "GET", f"/orders/{uuid.uuid4()}")
    assert missing.status == 404
    # A huge or malformed id is a 404 too, never a 5xx, and not echoed
    for bad_id in ("x" * 2000, "not-an-order-id"):
        response = call(shop.api_url, "GET", f"/orders/{bad_id}")
        assert (response.status, response.body) == (404, {"message": "Order not found"}), response.status
    # An unsigned request
    unsigned = shop.local.call("GET", f"{shop.api_url.split(shop.local.endpoint)[1].rstrip('/')}/orders/x")
    assert unsigned == {"message": "Missing Authentication Token"}


def test_the_catalogue_prices_the_order_and_the_outbox_publishes_it_without_the_token(shop: Shop) -> None:
    # Given an item the catalogue sells at 7.77 EUR
    item = sku()
    shop.stock(item, 5, price_cents=777)
    since = shop.local.last_seq()
    # When a service orders two for a customer
    placed = shop.place(item, quantity=2, customer="c-priced")
    assert placed.status == 202, placed
    order_id = placed.body["orderId"]
    shop.local.settle()
    # Then the order is priced by the catalogue and completes
    order = shop.order(order_id)
    assert (order["status"], order["totalCents"], order["customerId"]) == ("COMPLETED", 1554, "c-priced")
    assert order["lines"] == [{"sku": item, "quantity": 2, "unitPriceCents": 777}]
    # And OrderPlaced reached the bus once the order was stored, with a payment reference only
    events = shop.published(order_id, since)
    [placed_event] = [e for e in events if e["detail-type"] == "OrderPlaced"]
    assert placed_event["detail"]["paymentRef"].startswith("pay_")
    assert placed_event["detail"]["totalCents"] == 1554
    assert "tok_visa" not in json.dumps(events)


def test_a_client_cannot_set_the_price_or_order_what_the_catalogue_does_not_sell(shop: Shop) -> None:
    # A price in the body breaks the API's model: refused before the function
    priced = {"lines": [{"sku": "BOOK-0001", "quantity": 1, "unitPriceCents": 0}], "currency": "EUR"}
    response = call(shop.api_url, "POST", "/orders", {**priced, "paymentToken": "tok_visa"})
    assert response.status == 400 and response.body == {"message": "Invalid request body"}
    # An unknown SKU is refused by the catalogue, naming the line and not the SKU
    unknown = sku()
    response = shop.place(unknown)
    assert response.status == 400, response
    assert response.body["errors"] == [{"field": "lines.0.sku", "error": "unknown sku"}]
    assert unknown not in json.dumps(response.body)


def test_another_caller_cannot_read_my_order(shop: Shop) -> None:
    # Given two IAM users, each signing with their own access key
    mine, theirs = shop.iam_user(), shop.iam_user()
    item = sku()
    shop.stock(item, 5)
    body = {"lines": [{"sku": item, "quantity": 1}], "currency": "EUR", "paymentToken": "tok_visa"}
    # When I place an order (as myself: no onBehalfOf)
    placed = call(shop.api_url, "POST", "/orders", body, credentials=mine)
    assert placed.status == 202, placed
    order_id = placed.body["orderId"]
    # Then I can read it, and I am its customer
    read = shop.get(order_id, mine)
    assert read.status == 200, read
    assert read.body["customerId"].startswith("arn:aws:iam::") and ":user/caller-" in read.body["customerId"]
    # And the other user gets a 404 as if it did not exist
    other = shop.get(order_id, theirs)
    assert (other.status, other.body) == (404, {"message": "Order not found"})
    # And the same Idempotency-Key used by each of us places two orders
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = call(shop.api_url, "POST", "/orders", body, key, credentials=mine)
    second = call(shop.api_url, "POST", "/orders", body, key, credentials=theirs)
    assert (first.status, second.status) == (202, 202)
    assert first.body["orderId"] != second.body["orderId"]
    shop.local.settle()


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


@pytest.fixture(scope="module")
def completed_order(shop: Shop) -> tuple[str, int]:
    """One order run to COMPLETED, and the trace's newest record before it was placed."""
    item = sku()
    shop.stock(item, 3)
    since = shop.local.last_seq()
    order_id = shop.place(item).body["orderId"]
    shop.local.settle()
    assert shop.order(order_id)["status"] == "COMPLETED"
    return order_id, since


def test_one_orders_trace_is_a_tree_from_order_placed_to_its_outcome_and_make_trace_prints_it(
    shop: Shop, completed_order: tuple[str, int]
) -> None:
    # Given a completed order
    order_id, since = completed_order
    # When its trace is asked for by the order id
    tree = flow(shop.local, order_id)
    # Then it is one flow, which began with the API request that answered with the order's id
    assert (tree["kind"], tree["name"], tree["outcome"]) == ("flow", order_id, "ok")
    assert tree["children"][0]["kind"] == "api" and tree["children"][0]["name"] == "POST /orders"
    # And OrderPlaced → the workflow's rule → its state machine target → the execution, SUCCEEDED
    [placed] = [e for e in nodes(tree, "event") if e["name"] == "OrderPlaced (myapp.orders)"]
    workflow_targets = [target for target in nodes(placed, "target") if target["name"].startswith("states:")]
    [target] = workflow_targets
    assert target["outcome"] == "delivered"
    [execution] = target["children"]
    assert execution["kind"] == "execution" and execution["outcome"] == "SUCCEEDED"
    # And its payment state sent the SQS message the payment function took, with timings
    [payment] = [s for s in nodes(execution, "state") if s.get("task") == "sqs:sendMessage.waitForTaskToken"]
    [batch] = payment["children"]
    assert (batch["kind"], batch["outcome"]) == ("batch", "ok")
    assert "Payment" in batch["name"] and batch["durationMs"] > 0
    assert payment["start"] <= batch["start"] and payment["durationMs"] > 0
    # And the child workflows ran under their states
    assert {child["outcome"] for child in nodes(execution, "execution")} == {"SUCCEEDED"}
    assert len(nodes(execution, "execution")) == 3  # the workflow, its prepare and fulfillment children
    # And OrderCompleted reached its consumers: the notifications topic, and the metrics function
    [completed] = [e for e in nodes(tree, "event") if e["name"] == "OrderCompleted (myapp.orders)"]
    completed_targets = {t["name"].split(":")[0]: t for t in nodes(completed, "target")}
    assert completed_targets["sns"]["outcome"] == "delivered"
    assert [i["outcome"] for i in nodes(completed_targets["lambda"], "invocation")] == ["ok"]
    # And its events are exactly those whose detail names the order (no other order's)
    published = {event["id"] for event in shop.published(order_id, since)}
    traced = {e["id"] for e in nodes(tree, "event") if e["name"].split()[0] not in ("Object",)}
    assert traced == published
    # And the CLI behind `make trace ID=...` prints the same tree, indented, with timings
    out = io.StringIO()
    assert trace_cli.main([order_id], out=out, endpoint=shop.local.endpoint) == 0
    printed = out.getvalue().splitlines()
    assert printed[0].split()[:5] == ["+0", "ms", "flow", order_id, "ok"]
    # (one level under the flow: two spaces after the time, two more for the depth)
    assert any(line.split(" ms", 1)[1].startswith("    event OrderPlaced (myapp.orders)") for line in printed)
    assert any(" execution " in line and "SUCCEEDED" in line for line in printed)


def test_the_trace_of_an_unknown_or_empty_id_is_a_clear_error(shop: Shop) -> None:
    unknown = shop.local.call("GET", "/_localcloud/trace?correlation=no-such-order")
    assert "no trace record mentions 'no-such-order'" in unknown["error"]
    assert "correlation must name" in shop.local.call("GET", "/_localcloud/trace?correlation=")["error"]
    assert trace_cli.main(["no-such-order"], out=io.StringIO(), endpoint=shop.local.endpoint) == 1
    assert "whole numbers" in shop.local.call("GET", "/_localcloud/trace?since=abc")["error"]


def test_every_function_of_an_orders_flow_logs_under_the_order_id(
    shop: Shop, completed_order: tuple[str, int]
) -> None:
    # Given a completed order
    order_id, _ = completed_order
    # When the app's function logs are read, as Logs Insights reads them
    logs = shop.local.client("logs")
    groups = [
        g["logGroupName"]
        for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/EventDriven-")["logGroups"]
    ]
    correlated: dict[str, int] = {}
    for group in groups:
        for event in logs.filter_log_events(logGroupName=group)["events"]:
            try:
                line = json.loads(event["message"])
            except ValueError:
                continue
            if isinstance(line, dict) and line.get("correlation_id") == order_id:
                correlated[group.rsplit("/", 1)[-1]] = correlated.get(group.rsplit("/", 1)[-1], 0) + 1
    # Then each function the order went through wrote lines carrying it as correlation_id (metrics
    # logs at DEBUG only: at INFO it writes its EMF documents, which are no log lines)
    assert {
        "EventDriven-orders-api",
        "EventDriven-order-outbox",
        "EventDriven-inventory",
        "EventDriven-payment",
        "EventDriven-accounting",
        "EventDriven-order-status",
    } <= set(correlated), correlated
