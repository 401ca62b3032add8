"""The StockStore adapter: the inventory table (PK `sku`) with one TransactWriteItems per change."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from inventory.service import InsufficientStock
from shared.dynamodb import error_code, from_item, to_item

MARKER_PREFIX = "reservation#"  # the reservation marker shares the table: its key cannot be a SKU


def marker_key(order_id: str) -> str:
    return f"{MARKER_PREFIX}{order_id}"


class DynamoDBStock:
    """Stock items `{sku, available, reserved}` and one marker item per reserved order, changed together.

    The marker makes both operations idempotent: reserving twice finds it (nothing changes), releasing
    twice finds it gone. A transaction that loses a race (TransactionConflict) is tried again.
    """

    def __init__(
        self,
        client: Any,
        *,
        table_name: str,
        now: Callable[[], str],
        attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._now = now
        self._attempts = attempts
        self._sleep = sleep

    def reserve(self, order_id: str, quantities: dict[str, int]) -> bool:
        skus = list(quantities)
        marker = {
            "sku": marker_key(order_id),
            "orderId": order_id,
            "lines": [{"sku": sku, "quantity": quantities[sku]} for sku in skus],
            "reservedAt": self._now(),
        }
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(marker),
                    "ConditionExpression": "attribute_not_exists(sku)",
                }
            }
        ]
        items += [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"sku": {"S": sku}},
                    "UpdateExpression": "SET available = available - :q ADD reserved :q",
                    # Fails for a SKU that does not exist too: no `available` to compare.
                    "ConditionExpression": "available >= :q",
                    "ExpressionAttributeValues": {":q": {"N": str(quantities[sku])}},
                }
            }
            for sku in skus
        ]
        reasons = self._transact(items)
        if reasons is None:
            return True
        if reasons[0] == "ConditionalCheckFailed":
            return False  # the marker exists: this order's stock is already reserved
        for sku, reason in zip(skus, reasons[1:], strict=True):
            if reason == "ConditionalCheckFailed":
                raise InsufficientStock(sku, quantities[sku])
        raise RuntimeError(f"reservation of order {order_id} cancelled: {reasons}")

    def release(self, order_id: str) -> bool:
        found = self._client.get_item(
            TableName=self._table, Key={"sku": {"S": marker_key(order_id)}}, ConsistentRead=True
        ).get("Item")
        if not found:
            return False  # never reserved, or already released
        # Give back what the marker says was reserved, whatever the caller's lines say.
        lines = from_item(found)["lines"]
        items: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": {"sku": {"S": marker_key(order_id)}},
                    "ConditionExpression": "attribute_exists(sku)",
                }
            }
        ]
        items += [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"sku": {"S": line["sku"]}},
                    "UpdateExpression": "ADD available :q, reserved :negative",
                    "ExpressionAttributeValues": {
                        ":q": {"N": str(line["quantity"])},
                        ":negative": {"N": str(-line["quantity"])},
                    },
                }
            }
            for line in lines
        ]
        reasons = self._transact(items)
        if reasons is None:
            return True
        if reasons[0] == "ConditionalCheckFailed":
            return False  # released concurrently by another invocation
        raise RuntimeError(f"release of order {order_id} cancelled: {reasons}")

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """None when the transaction committed, else the cancellation reason code of each item."""
        attempt = 1
        while True:
            try:
                self._client.transact_write_items(TransactItems=items)
                return None
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            # A conflict with a concurrent transaction on the same items is worth another try.
            if "TransactionConflict" not in reasons or attempt >= self._attempts:
                return reasons
            self._sleep(0.05 * 2 ** (attempt - 1))
            attempt += 1
