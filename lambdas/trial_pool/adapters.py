"""The Claims adapter: the shared pool-table adapter plus the trial row, in one DynamoDB transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from shared.aws_errors import (
    REASON_CONDITIONAL_CHECK_FAILED,
    REASON_NONE,
    REASON_TRANSACTION_CONFLICT,
    TRANSACTION_CANCELED,
    cancellation_reasons,
    error_code,
)
from shared.pool_table import DynamoDbPoolTable, PoolItem
from trial_pool.service import Outcome, TrialRow


class DynamoDbClaims:
    """Claims over the pool table and the trials table (PK `trialId`)."""

    def __init__(self, client: Any, *, pool: DynamoDbPoolTable, trials_table: str) -> None:
        self._client = client
        self._pool = pool
        self._trials = trials_table

    def trial(self, trial_id: str) -> TrialRow | None:
        item = self._client.get_item(
            TableName=self._trials,
            Key={"trialId": {"S": trial_id}},
            ConsistentRead=True,
            ProjectionExpression="#status, environmentId",
            ExpressionAttributeNames={"#status": "status"},
        ).get("Item")
        if item is None:
            return None
        environment = item.get("environmentId")
        return TrialRow(status=item["status"]["S"], environment_id=environment["S"] if environment else None)

    def environment(self, environment_id: str) -> PoolItem | None:
        return self._pool.get(environment_id)

    def warm_oldest_first(self) -> Iterator[str]:
        return self._pool.ids_with_status("WARM")

    def try_claim(self, environment_id: str, *, trial_id: str, claimed_at: str) -> Outcome:
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": self._pool.claim_update(
                            environment_id, trial_id=trial_id, claimed_at=claimed_at
                        )
                    },
                    {"Update": self._record_on_trial(trial_id, environment_id, claimed_at)},
                ]
            )
        except ClientError as error:
            if error_code(error) != TRANSACTION_CANCELED:
                raise
            return _outcome(error)
        return Outcome.CLAIMED

    def _record_on_trial(self, trial_id: str, environment_id: str, claimed_at: str) -> dict[str, Any]:
        return {
            "TableName": self._trials,
            "Key": {"trialId": {"S": trial_id}},
            "UpdateExpression": "SET #status = :assigned, environmentId = :environment, assignedAt = :now",
            "ConditionExpression": "#status = :requested AND attribute_not_exists(environmentId)",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":assigned": {"S": "ASSIGNED"},
                ":requested": {"S": "REQUESTED"},
                ":environment": {"S": environment_id},
                ":now": {"S": claimed_at},
            },
        }


def _outcome(error: ClientError) -> Outcome:
    """Why the transaction was cancelled, from its per-item reasons: [pool item, trial row]."""
    reasons = cancellation_reasons(error)
    pool_reason, trial_reason = [*reasons, REASON_NONE, REASON_NONE][:2]
    if trial_reason == REASON_CONDITIONAL_CHECK_FAILED:
        return Outcome.TRIAL_CHANGED
    if trial_reason == REASON_TRANSACTION_CONFLICT:
        return Outcome.CONFLICT
    if pool_reason in (REASON_CONDITIONAL_CHECK_FAILED, REASON_TRANSACTION_CONFLICT):
        return Outcome.TAKEN
    raise error
