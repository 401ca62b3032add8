"""The OrderRepository adapter: the orders table (PK `orderId`) through the low-level DynamoDB client."""

from __future__ import annotations

from typing import Any

from orders_api.service import PUBLIC_FIELDS, NewOrder
from shared.dynamodb import from_item, to_item

# Attribute names through placeholders: `status` is a DynamoDB reserved word, and so may others become.
_PROJECTION = ", ".join(f"#f{i}" for i in range(len(PUBLIC_FIELDS)))
_PROJECTION_NAMES = {f"#f{i}": name for i, name in enumerate(PUBLIC_FIELDS)}


class DynamoDBOrders:
    """Orders in DynamoDB: a conditional put to create, an update to fail, a consistent read to show."""

    def __init__(self, client: Any, *, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create(self, order: NewOrder) -> None:
        request = order.request
        item = {
            "orderId": order.order_id,
            "customerId": request.customerId,
            "status": "PENDING",
            "lines": [line.model_dump() for line in request.lines],
            "currency": request.currency,
            "totalCents": order.total_cents,
            "paymentToken": request.paymentToken,
            "createdAt": order.created_at,
            "updatedAt": order.created_at,
        }
        self._client.put_item(
            TableName=self._table,
            Item=to_item(item),
            ConditionExpression="attribute_not_exists(orderId)",
        )

    def mark_failed(self, order_id: str, *, reason: str, at: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"orderId": {"S": order_id}},
            UpdateExpression="SET #status = :failed, #reason = :reason, updatedAt = :at",
            ConditionExpression="attribute_exists(orderId)",
            ExpressionAttributeNames={"#status": "status", "#reason": "reason"},
            ExpressionAttributeValues=to_item({":failed": "FAILED", ":reason": reason, ":at": at}),
        )

    def get(self, order_id: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"orderId": {"S": order_id}},
            ProjectionExpression=_PROJECTION,
            ExpressionAttributeNames=_PROJECTION_NAMES,
            # Read-your-writes: a client polling right after POST must find its order.
            ConsistentRead=True,
        )
        item = response.get("Item")
        return from_item(item) if item else None
