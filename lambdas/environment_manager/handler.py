"""Lambda entry point: TrialAssigned, TrialExpired, TrialAssignmentFailed, and `{"action": "refill"}`."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from environment_manager.cloudformation import CloudFormationStacks
from environment_manager.service import (
    DeletionWait,
    StackDeletionFailed,
    StackDeletionPending,
    fail_trial,
    refill,
    replace_claimed,
    retire_environments,
)
from environment_manager.tables import DynamoDbPoolTable, DynamoDbTrialsTable
from shared.contracts.trials import (
    InvalidTrialEvent,
    TrialAssigned,
    TrialAssignmentFailed,
    TrialExpired,
    parse_trial_event,
)

__all__ = ["InvalidTrialEvent", "StackDeletionFailed", "StackDeletionPending", "lambda_handler"]

TEMPLATE_FILE = Path(__file__).parent / "trial_environment.template.json"
# Time kept back from the deadline when watching a deletion, to record the outcome and return.
DELETION_WAIT_MARGIN_SECONDS = 3.0

logger = Logger()
session = boto3.session.Session()


@lru_cache(maxsize=1)
def stacks() -> CloudFormationStacks:
    return CloudFormationStacks(
        session.client("cloudformation"),
        template_body=TEMPLATE_FILE.read_text(),
        role_arn=os.environ.get("STACK_ROLE_ARN") or None,
    )


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    return session.client("dynamodb")  # one client for both tables


@lru_cache(maxsize=1)
def pool() -> DynamoDbPoolTable:
    return DynamoDbPoolTable(dynamodb(), os.environ["POOL_TABLE_NAME"])


@lru_cache(maxsize=1)
def trials() -> DynamoDbTrialsTable:
    return DynamoDbTrialsTable(dynamodb(), os.environ["TRIALS_TABLE_NAME"])


def stack_prefix() -> str:
    return os.environ.get("STACK_PREFIX") or "trial-env"


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("action") == "refill":
        created = refill(
            pool_size=int(os.environ["POOL_SIZE"]),
            stacks=stacks(),
            pool=pool(),
            stack_prefix=stack_prefix(),
            created_at=_now(),
        )
        logger.info(
            "Pool refilled", extra={"created_environments": [item.environment_id for item in created]}
        )
        return {"created": [item.environment_id for item in created]}

    # Raised, not swallowed: after Lambda's retries an invalid event lands in the OnFailure DLQ with the text.
    trial = parse_trial_event(event, TrialAssigned, TrialExpired, TrialAssignmentFailed).detail
    logger.append_keys(trial_id=trial.trialId)
    if isinstance(trial, TrialAssigned):
        item = replace_claimed(
            trial.trialId, stacks=stacks(), pool=pool(), stack_prefix=stack_prefix(), created_at=_now()
        )
        logger.info("Replacement environment created", extra={"environment_id": item.environment_id})
        return {"created": [item.environment_id]}

    wait = DeletionWait.within(context.get_remaining_time_in_millis() / 1000 - DELETION_WAIT_MARGIN_SECONDS)
    if isinstance(trial, TrialExpired):
        retired = retire_environments(trial.trialId, stacks=stacks(), pool=pool(), wait=wait)
        logger.info("Expired trial's environments deleted", extra={"retired": retired})
        return {"retired": retired}

    marked, retired = fail_trial(trial.trialId, trials=trials(), stacks=stacks(), pool=pool(), wait=wait)
    logger.info("Failed trial cleaned up", extra={"trial_marked_failed": marked, "retired": retired})
    return {"trialMarkedFailed": marked, "retired": retired}


def _now() -> str:
    """ISO 8601 UTC with milliseconds: sorts as text, which the `byStatus` index relies on."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
