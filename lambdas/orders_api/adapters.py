"""The order API's ports on DynamoDB: the orders and payment tokens tables, and the catalogue's prices."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from orders_api.service import CatalogueItem, NewOrder, OrderExists
from shared.aws_errors import REASON_CONDITIONAL_CHECK_FAILED, cancellation_reasons
from shared.dynamodb import from_item, to_item

BATCH_GET_ATTEMPTS = 5  # rounds of BatchGetItem for keys DynamoDB left unprocessed (throttling)


class CatalogueUnavailable(RuntimeError):
    """The inventory table kept some keys unprocessed: the prices could not all be read (a 5xx)."""


class DynamoDBOrders:
    """Orders and their payment tokens: one transaction to create, a consistent read to show."""

    def __init__(self, client: Any, *, orders_table: str, tokens_table: str) -> None:
        self._client = client
        self._orders = orders_table
        self._tokens = tokens_table

    def create(self, order: NewOrder) -> None:
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._orders,
                            "Item": to_item(order.item()),
                            "ConditionExpression": "attribute_not_exists(orderId)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._tokens,
                            "Item": to_item(order.token_item()),
                            "ConditionExpression": "attribute_not_exists(paymentRef)",
                        }
                    },
                ]
            )
        except ClientError as error:
            if _order_condition_failed(error):
                raise OrderExists(order.order_id) from None
            raise

    def get(self, order_id: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._orders,
            Key={"orderId": {"S": order_id}},
            # Read-your-writes: a client polling right after POST must find its order.
            ConsistentRead=True,
        )
        item = response.get("Item")
        return from_item(item) if item else None


class DynamoDBCatalogue:
    """Prices from the inventory table (PK `sku`): one consistent BatchGetItem per request."""

    def __init__(
        self, client: Any, *, table_name: str, sleep: Callable[[float], None], backoff_seconds: float
    ) -> None:
        self._client = client
        self._table = table_name
        self._sleep = sleep
        self._backoff = backoff_seconds

    def items(self, skus: Sequence[str]) -> Mapping[str, CatalogueItem]:
        # At most 50 distinct SKUs (the contract's MAX_LINES): within BatchGetItem's 100 keys.
        request: dict[str, Any] = {
            self._table: {
                "Keys": [{"sku": {"S": sku}} for sku in dict.fromkeys(skus)],
                "ConsistentRead": True,
                "ProjectionExpression": "#sku, #price, #currency",
                "ExpressionAttributeNames": {"#sku": "sku", "#price": "priceCents", "#currency": "currency"},
            }
        }
        found: dict[str, CatalogueItem] = {}
        for attempt in range(BATCH_GET_ATTEMPTS):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1))
            response = self._client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(self._table, []):
                item = from_item(raw)
                found[str(item["sku"])] = CatalogueItem(
                    sku=str(item["sku"]), price_cents=item.get("priceCents"), currency=item.get("currency")
                )
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return found
        raise CatalogueUnavailable(f"inventory keys still unprocessed after {BATCH_GET_ATTEMPTS} attempts")


def _order_condition_failed(error: ClientError) -> bool:
    """A cancelled transaction whose first item (the order) failed its attribute_not_exists."""
    reasons = cancellation_reasons(error)  # [] unless a TransactionCanceledException
    return bool(reasons) and reasons[0] == REASON_CONDITIONAL_CHECK_FAILED
