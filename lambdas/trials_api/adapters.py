"""The TrialStore adapter: trial rows and their request keys, through the low-level DynamoDB client."""

from __future__ import annotations

from typing import Any, cast

from botocore.exceptions import ClientError

from shared.aws_errors import TRANSACTION_CANCELED, error_code
from shared.contracts.trials import TrialStatus
from trials_api.service import Contended, Guard, RequestKey, Trial


class DynamoDbTrialStore:
    """Rows keyed by `trialId` (`expiresAt` is the TTL attribute, epoch seconds); request keys in their
    own table keyed by `requestKey`, expiring with the trial they point at."""

    def __init__(self, client: Any, *, trials_table: str, requests_table: str) -> None:
        self._client = client
        self._trials = trials_table
        self._requests = requests_table

    def put_new(self, trial: Trial, *, request: RequestKey, now: int, replacing: str | None) -> Guard | None:
        condition = "attribute_not_exists(requestKey) OR expiresAt <= :now"
        values: dict[str, Any] = {":now": {"N": str(now)}}
        if replacing is not None:
            condition += " OR trialId = :replacing"
            values[":replacing"] = {"S": replacing}
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._requests,
                            "Item": {
                                "requestKey": {"S": request.key},
                                "trialId": {"S": trial.trial_id},
                                "fingerprint": {"S": request.fingerprint},
                                "expiresAt": {"N": str(trial.expires_at)},
                            },
                            "ConditionExpression": condition,
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._trials,
                            "Item": _row(trial),
                            # A uuid4 never collides; the condition makes sure a bug cannot overwrite a trial.
                            "ConditionExpression": "attribute_not_exists(trialId)",
                        }
                    },
                ]
            )
        except ClientError as error:
            if error_code(error) != TRANSACTION_CANCELED:
                raise
            guard = self._guard(request.key)
            if guard is None:  # a conflict with a transaction that did not commit: the caller tries again
                raise Contended("the request key was being written concurrently") from None
            return guard
        return None

    def get(self, trial_id: str) -> Trial | None:
        item = self._client.get_item(
            TableName=self._trials, Key={"trialId": {"S": trial_id}}, ConsistentRead=True
        ).get("Item")
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

    def _guard(self, key: str) -> Guard | None:
        item = self._client.get_item(
            TableName=self._requests, Key={"requestKey": {"S": key}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return Guard(trial_id=item["trialId"]["S"], fingerprint=item["fingerprint"]["S"])


def _row(trial: Trial) -> dict[str, Any]:
    return {
        "trialId": {"S": trial.trial_id},
        "leadId": {"S": trial.lead_id},
        "type": {"S": trial.type},
        "requestedAt": {"N": str(trial.requested_at)},
        "status": {"S": trial.status},
        "expiresAt": {"N": str(trial.expires_at)},
    }
