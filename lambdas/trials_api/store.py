"""The TrialStore adapter: the trials table through the low-level DynamoDB client."""

from __future__ import annotations

from typing import Any, cast

from shared.contracts.trials import TrialStatus
from trials_api.service import Trial


class DynamoDbTrialStore:
    """Rows keyed by `trialId`; `expiresAt` is the table's TTL attribute (epoch seconds)."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put_new(self, trial: Trial) -> None:
        item: dict[str, Any] = {
            "trialId": {"S": trial.trial_id},
            "leadId": {"S": trial.lead_id},
            "type": {"S": trial.type},
            "requestedAt": {"N": str(trial.requested_at)},
            "status": {"S": trial.status},
            "expiresAt": {"N": str(trial.expires_at)},
        }
        # A uuid4 never collides; the condition makes sure a bug could not overwrite a live trial.
        self._client.put_item(
            TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(trialId)"
        )

    def get(self, trial_id: str) -> Trial | None:
        response = self._client.get_item(
            TableName=self._table, Key={"trialId": {"S": trial_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return None
        environment = item.get("environmentId")
        return Trial(
            trial_id=item["trialId"]["S"],
            lead_id=item["leadId"]["S"],
            type=item["type"]["S"],
            requested_at=int(item["requestedAt"]["N"]),
            status=cast(TrialStatus, item["status"]["S"]),
            expires_at=int(item["expiresAt"]["N"]),
            environment_id=environment["S"] if environment else None,
        )
