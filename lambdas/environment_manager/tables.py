"""The PoolTable and TrialsTable adapters, through the low-level DynamoDB client."""

from __future__ import annotations

from typing import Any, cast

from botocore.exceptions import ClientError

from environment_manager.service import PoolItem, PoolStatus


class DynamoDbPoolTable:
    """Pool items keyed by `environmentId`; indexes `byStatus` (status, createdAt) and `byTrial` (trialId).

    Index reads only supply keys and counts; decisions read the item itself, consistently.
    """

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def add_warm(self, *, environment_id: str, stack_name: str, created_at: str) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "environmentId": {"S": environment_id},
                    "status": {"S": "WARM"},
                    "stackName": {"S": stack_name},
                    "createdAt": {"S": created_at},
                },
                # Never overwrite: a repeat must not turn a CLAIMED environment back into a WARM one.
                ConditionExpression="attribute_not_exists(environmentId)",
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def count_warm(self) -> int:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "byStatus",
            "KeyConditionExpression": "#status = :warm",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":warm": {"S": "WARM"}},
            "Select": "COUNT",
        }
        count = 0
        while True:
            response = self._client.query(**request)
            count += int(response["Count"])
            if "LastEvaluatedKey" not in response:
                return count
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def of_trial(self, trial_id: str) -> list[PoolItem]:
        keys = self._client.query(
            TableName=self._table,
            IndexName="byTrial",
            KeyConditionExpression="trialId = :trial",
            ExpressionAttributeValues={":trial": {"S": trial_id}},
        ).get("Items", [])
        items = []
        for key in keys:
            item = self._client.get_item(
                TableName=self._table, Key={"environmentId": key["environmentId"]}, ConsistentRead=True
            ).get("Item")
            if item and item.get("trialId", {}).get("S") == trial_id:
                items.append(
                    PoolItem(
                        environment_id=item["environmentId"]["S"],
                        stack_name=item["stackName"]["S"],
                        status=cast(PoolStatus, item["status"]["S"]),
                        trial_id=trial_id,
                    )
                )
        return items

    def set_status(self, environment_id: str, status: PoolStatus, *, reason: str | None = None) -> None:
        values: dict[str, Any] = {":status": {"S": status}}
        update = "SET #status = :status"
        if reason is None:
            update += " REMOVE statusReason"
        else:
            update += ", statusReason = :reason"
            values[":reason"] = {"S": reason}
        self._client.update_item(
            TableName=self._table,
            Key={"environmentId": {"S": environment_id}},
            UpdateExpression=update,
            ConditionExpression="attribute_exists(environmentId)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )


class DynamoDbTrialsTable:
    """Trial rows keyed by `trialId`."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def mark_failed(self, trial_id: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"trialId": {"S": trial_id}},
                UpdateExpression="SET #status = :failed",
                # Without it, an update of a row that TTL already removed would create a stub row.
                ConditionExpression="attribute_exists(trialId)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":failed": {"S": "FAILED"}},
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
