"""The order sweeper's AWS side: the orders table's status index (Query) and a conditional update."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from order_sweeper.service import OpenOrder
from shared.aws_errors import applied
from shared.dynamodb import to_item


class DynamoDBOpenOrders:
    """The orders table (PK `orderId`) and its index on (`status`, `updatedAt`), keys only."""

    def __init__(self, client: Any, *, table_name: str, index_name: str) -> None:
        self._client = client
        self._table = table_name
        self._index = index_name

    def last_updated_before(self, status: str, cutoff: str) -> Iterator[OpenOrder]:
        paginator = self._client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName=self._index,
            KeyConditionExpression="#status = :status AND updatedAt < :cutoff",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":status": {"S": status}, ":cutoff": {"S": cutoff}},
        )
        for page in pages:
            for item in page.get("Items", []):
                yield OpenOrder(
                    order_id=item["orderId"]["S"],
                    status=item["status"]["S"],
                    updated_at=item["updatedAt"]["S"],
                )

    def mark_needs_attention(self, order: OpenOrder, *, reason: str, at: str) -> bool:
        return applied(
            self._client.update_item,
            TableName=self._table,
            Key={"orderId": {"S": order.order_id}},
            UpdateExpression="SET #status = :attention, #reason = :reason, previousStatus = :was, "
            "updatedAt = :at",
            ConditionExpression="#status = :was AND updatedAt = :seen",
            ExpressionAttributeNames={"#status": "status", "#reason": "reason"},
            ExpressionAttributeValues=to_item(
                {
                    ":attention": "NEEDS_ATTENTION",
                    ":reason": reason,
                    ":was": order.status,
                    ":seen": order.updated_at,
                    ":at": at,
                }
            ),
        )
