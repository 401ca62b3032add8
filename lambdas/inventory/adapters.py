"""The inventory service's AWS side: the inventory table (PK `sku`), one TransactWriteItems per change."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from inventory.service import InsufficientStock, NothingReserved
from shared.aws_errors import (
    REASON_CONDITIONAL_CHECK_FAILED,
    REASON_TRANSACTION_CONFLICT,
    TRANSACTION_CANCELED,
    cancellation_reasons,
    error_code,
)
from shared.dynamodb import from_item, to_item

MARKER_PREFIX = "reservation#"  # the reservation marker shares the table: its key cannot be a SKU


def marker_key(order_id: str) -> str:
    return f"{MARKER_PREFIX}{order_id}"


class DynamoDBStock:
    """Stock items `{sku, available, reserved, sold}` and one marker item per order, changed together.

    The marker makes every operation idempotent: reserving twice finds it (nothing changes), committing
    twice finds it SOLD, releasing twice finds it gone. Each change is conditional on the marker's
    state as read, so `available + reserved + sold` stays what it was. A transaction that loses a
    race (TransactionConflict) is tried again.
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
            "state": "RESERVED",
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
        if reasons[0] == REASON_CONDITIONAL_CHECK_FAILED:
            return False  # the marker exists: this order's stock is already reserved
        for sku, reason in zip(skus, reasons[1:], strict=True):
            if reason == REASON_CONDITIONAL_CHECK_FAILED:
                raise InsufficientStock(sku, quantities[sku])
        raise RuntimeError(f"reservation of order {order_id} cancelled: {reasons}")

    def commit(self, order_id: str) -> bool:
        marker = self._marker(order_id)
        if marker is None:
            raise NothingReserved(f"order {order_id} holds no reservation to commit")
        if marker.get("state") == "SOLD":
            return False
        items = [self._marker_update(order_id, "SET #state = :sold", {":sold": {"S": "SOLD"}}, marker)]
        items += [self._stock_update(line, "ADD reserved :negative, sold :q") for line in marker["lines"]]
        return self._committed(items, f"commit of order {order_id}")

    def release(self, order_id: str) -> bool:
        marker = self._marker(order_id)
        if marker is None:
            return False  # never reserved, or already released
        # Give back what the marker says was held, whatever the caller's lines say: reserved stock,
        # or sold stock when the order fails after its stock was committed.
        held = "sold" if marker.get("state") == "SOLD" else "reserved"
        items: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": {"sku": {"S": marker_key(order_id)}},
                    **self._marker_condition(marker),
                }
            }
        ]
        items += [self._stock_update(line, f"ADD available :q, {held} :negative") for line in marker["lines"]]
        return self._committed(items, f"release of order {order_id}")

    def _marker(self, order_id: str) -> dict[str, Any] | None:
        found = self._client.get_item(
            TableName=self._table, Key={"sku": {"S": marker_key(order_id)}}, ConsistentRead=True
        ).get("Item")
        return from_item(found) if found else None

    @staticmethod
    def _marker_condition(marker: dict[str, Any]) -> dict[str, Any]:
        """The marker still in the state it was read in (markers from before `state` count as RESERVED)."""
        if "state" in marker:
            return {
                "ConditionExpression": "#state = :was",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {":was": {"S": marker["state"]}},
            }
        return {
            "ConditionExpression": "attribute_exists(sku) AND attribute_not_exists(#state)",
            "ExpressionAttributeNames": {"#state": "state"},
        }

    def _marker_update(
        self, order_id: str, expression: str, values: dict[str, Any], marker: dict[str, Any]
    ) -> dict[str, Any]:
        condition = self._marker_condition(marker)
        return {
            "Update": {
                "TableName": self._table,
                "Key": {"sku": {"S": marker_key(order_id)}},
                "UpdateExpression": expression,
                "ConditionExpression": condition["ConditionExpression"],
                "ExpressionAttributeNames": condition["ExpressionAttributeNames"],
                "ExpressionAttributeValues": {**values, **condition.get("ExpressionAttributeValues", {})},
            }
        }

    def _stock_update(self, line: dict[str, Any], expression: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": {"sku": {"S": line["sku"]}},
                "UpdateExpression": expression,
                "ExpressionAttributeValues": {
                    ":q": {"N": str(line["quantity"])},
                    ":negative": {"N": str(-line["quantity"])},
                },
            }
        }

    def _committed(self, items: list[dict[str, Any]], what: str) -> bool:
        reasons = self._transact(items)
        if reasons is None:
            return True
        if reasons[0] == REASON_CONDITIONAL_CHECK_FAILED:
            return False  # the marker moved on: done concurrently by another invocation
        raise RuntimeError(f"{what} cancelled: {reasons}")

    def _transact(self, items: list[dict[str, Any]]) -> list[str] | None:
        """None when the transaction committed, else the cancellation reason code of each item."""
        attempt = 1
        while True:
            try:
                self._client.transact_write_items(TransactItems=items)
                return None
            except ClientError as error:
                if error_code(error) != TRANSACTION_CANCELED:
                    raise
                reasons = cancellation_reasons(error)
            # A conflict with a concurrent transaction on the same items is worth another try.
            if REASON_TRANSACTION_CONFLICT not in reasons or attempt >= self._attempts:
                return reasons
            self._sleep(0.05 * 2 ** (attempt - 1))
            attempt += 1
