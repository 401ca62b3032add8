"""The Pool adapter: the pool table and its `byStatus` / `byTrial` indexes, through the DynamoDB client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from trial_pool.service import Environment

PAGE_SIZE = 10


class DynamoDbPool:
    """Pool items keyed by `environmentId`. Index reads only supply keys; the item itself is read or
    written on the table, so the indexes' projection does not matter and every decision is consistent."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def claimed_by(self, trial_id: str) -> Environment | None:
        response = self._client.query(
            TableName=self._table,
            IndexName="byTrial",
            KeyConditionExpression="trialId = :trial",
            ExpressionAttributeValues={":trial": {"S": trial_id}},
        )
        for key in response.get("Items", []):
            item = self._client.get_item(
                TableName=self._table,
                Key={"environmentId": key["environmentId"]},
                ConsistentRead=True,
            ).get("Item")
            if item and item["status"]["S"] == "CLAIMED" and item.get("trialId", {}).get("S") == trial_id:
                return _environment(item)
        return None

    def warm_oldest_first(self) -> Iterator[str]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "byStatus",
            "KeyConditionExpression": "#status = :warm",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":warm": {"S": "WARM"}},
            "ScanIndexForward": True,  # createdAt ascending: the oldest warm environment first
            "Limit": PAGE_SIZE,
        }
        while True:
            response = self._client.query(**request)
            for item in response.get("Items", []):
                yield item["environmentId"]["S"]
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def try_claim(self, environment_id: str, *, trial_id: str, claimed_at: str) -> Environment | None:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"environmentId": {"S": environment_id}},
                UpdateExpression="SET #status = :claimed, trialId = :trial, claimedAt = :now",
                ConditionExpression="#status = :warm",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":claimed": {"S": "CLAIMED"},
                    ":warm": {"S": "WARM"},
                    ":trial": {"S": trial_id},
                    ":now": {"S": claimed_at},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"].get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return _environment(response["Attributes"])


def _environment(item: dict[str, Any]) -> Environment:
    return Environment(environment_id=item["environmentId"]["S"], stack_name=item["stackName"]["S"])
