"""The pool table of trial environments: one adapter for every function that reads or writes it.

An item is `{environmentId, status, stackName, createdAt, [trialId, claimedAt], [statusReason]}`.
Life of an environment:

    PROVISIONING --stack CREATE_COMPLETE--> WARM --claim--> CLAIMED --trial over--> DELETING --> DELETED
    PROVISIONING --stack CREATE_FAILED / ROLLBACK--> FAILED --stack deleted--> DELETED
    DELETING --stack DELETE_FAILED--> FAILED (the reconcile deletes it again)

Every status change is a conditional update on the status expected before it, so two deliveries of
one event, or two functions racing, change an item once. The indexes (`byStatus`: status + createdAt,
`byTrial`: trialId) project keys only: they supply candidates, never a decision; decisions read the
item consistently or put the condition on the write. Plain botocore, no pydantic: the claim is on the
synchronous path of the assignment workflow and must start fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, cast

from shared.aws_errors import applied

PoolStatus = Literal["PROVISIONING", "WARM", "CLAIMED", "DELETING", "DELETED", "FAILED"]
BY_STATUS = "byStatus"
BY_TRIAL = "byTrial"
PAGE_SIZE = 25


@dataclass(frozen=True)
class PoolItem:
    """One environment of the pool."""

    environment_id: str
    stack_name: str
    status: PoolStatus
    created_at: str = ""
    trial_id: str | None = None

    def as_json(self) -> dict[str, str]:
        """What the assignment workflow gets back from a claim."""
        return {"environmentId": self.environment_id, "stackName": self.stack_name}


def pool_item(item: dict[str, Any]) -> PoolItem:
    """A pool item from its DynamoDB attribute values."""
    trial = item.get("trialId")
    return PoolItem(
        environment_id=item["environmentId"]["S"],
        stack_name=item["stackName"]["S"],
        status=cast(PoolStatus, item["status"]["S"]),
        created_at=item.get("createdAt", {}).get("S", ""),
        trial_id=trial["S"] if trial else None,
    )


class DynamoDbPoolTable:
    """The pool table through the low-level DynamoDB client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self.table_name = table_name

    def key(self, environment_id: str) -> dict[str, Any]:
        return {"environmentId": {"S": environment_id}}

    def add_provisioning(self, *, environment_id: str, stack_name: str, created_at: str) -> bool:
        """Adds a PROVISIONING item; False when an item with that id exists already (any status)."""
        return applied(
            self._client.put_item,
            TableName=self.table_name,
            Item={
                **self.key(environment_id),
                "status": {"S": "PROVISIONING"},
                "stackName": {"S": stack_name},
                "createdAt": {"S": created_at},
            },
            # Never overwrite: a repeat must not turn a CLAIMED or DELETED environment back.
            ConditionExpression="attribute_not_exists(environmentId)",
        )

    def get(self, environment_id: str) -> PoolItem | None:
        """The item as it is now (a consistent read), or None."""
        item = self._client.get_item(
            TableName=self.table_name, Key=self.key(environment_id), ConsistentRead=True
        ).get("Item")
        return pool_item(item) if item else None

    def transition(
        self,
        environment_id: str,
        *,
        expected: Iterable[PoolStatus],
        to: PoolStatus,
        reason: str | None = None,
        at: str | None = None,
    ) -> bool:
        """Sets the status if it is one of `expected` (and the reason, if given); False when it is not
        (or the item is missing)."""
        allowed = sorted(set(expected))
        values: dict[str, Any] = {":to": {"S": to}}
        values.update({f":from{n}": {"S": status} for n, status in enumerate(allowed)})
        update = "SET #status = :to"
        if at is not None:
            update += ", updatedAt = :at"
            values[":at"] = {"S": at}
        if reason is not None:  # kept otherwise: a DELETED item still says why it failed, if it did
            update += ", statusReason = :reason"
            values[":reason"] = {"S": reason}
        return applied(
            self._client.update_item,
            TableName=self.table_name,
            Key=self.key(environment_id),
            UpdateExpression=update,
            ConditionExpression=f"#status IN ({', '.join(f':from{n}' for n in range(len(allowed)))})",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )

    def claim_update(self, environment_id: str, *, trial_id: str, claimed_at: str) -> dict[str, Any]:
        """The `Update` of a TransactWriteItems that takes a WARM environment for a trial."""
        return {
            "TableName": self.table_name,
            "Key": self.key(environment_id),
            "UpdateExpression": "SET #status = :claimed, trialId = :trial, claimedAt = :now",
            "ConditionExpression": "#status = :warm",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":claimed": {"S": "CLAIMED"},
                ":warm": {"S": "WARM"},
                ":trial": {"S": trial_id},
                ":now": {"S": claimed_at},
            },
        }

    def ids_with_status(self, status: PoolStatus, *, created_before: str | None = None) -> Iterator[str]:
        """Ids of the items with a status, oldest first, read lazily (often only the first is needed)."""
        values: dict[str, Any] = {":status": {"S": status}}
        condition = "#status = :status"
        if created_before is not None:
            condition += " AND createdAt < :before"
            values[":before"] = {"S": created_before}
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": BY_STATUS,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
            "ScanIndexForward": True,  # createdAt ascending: the oldest first
            "Limit": PAGE_SIZE,
        }
        while True:
            response = self._client.query(**request)
            for item in response.get("Items", []):
                yield item["environmentId"]["S"]
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def count(self, *statuses: PoolStatus) -> int:
        """How many items have one of the statuses (from the index: a moment ago, good for sizing)."""
        total = 0
        for status in statuses:
            request: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": BY_STATUS,
                "KeyConditionExpression": "#status = :status",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {":status": {"S": status}},
                "Select": "COUNT",
            }
            while True:
                response = self._client.query(**request)
                total += int(response["Count"])
                if "LastEvaluatedKey" not in response:
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return total

    def of_trial(self, trial_id: str) -> list[PoolItem]:
        """The environments claimed for a trial, each read consistently (the index only finds them)."""
        keys = self._client.query(
            TableName=self.table_name,
            IndexName=BY_TRIAL,
            KeyConditionExpression="trialId = :trial",
            ExpressionAttributeValues={":trial": {"S": trial_id}},
        ).get("Items", [])
        found = [self.get(key["environmentId"]["S"]) for key in keys]
        return [item for item in found if item is not None and item.trial_id == trial_id]
