"""Lambda entry point, invoked by the assignment state machine: `{"action": "claim", "trialId"}`."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared import correlation
from shared.clock import utc_now
from shared.pool_table import DynamoDbPoolTable
from trial_pool import config
from trial_pool.adapters import DynamoDbClaims
from trial_pool.service import (
    ClaimConflict,
    InvalidPoolRequest,
    PoolEmpty,
    TrialNotClaimable,
    claim,
    parse_claim,
)

__all__ = ["ClaimConflict", "InvalidPoolRequest", "PoolEmpty", "TrialNotClaimable", "lambda_handler"]

settings = config.load()
logger = Logger()
session = boto3.session.Session()


@lru_cache(maxsize=1)
def claims() -> DynamoDbClaims:
    client = session.client("dynamodb")
    return DynamoDbClaims(
        client,
        pool=DynamoDbPoolTable(client, settings.pool_table_name),
        trials_table=settings.trials_table_name,
    )


@logger.inject_lambda_context(correlation_id_path=correlation.WORKFLOW_PAYLOAD)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    trial_id = parse_claim(event)
    # PoolEmpty and TrialNotClaimable propagate: Lambda reports the class name as errorType, which the
    # workflow's Catch turns into TrialAssignmentFailed; ClaimConflict is retried by the workflow.
    environment = claim(trial_id, claims=claims(), now=utc_now())
    logger.info("Environment claimed", extra={"trial_id": trial_id, **environment.as_json()})
    return environment.as_json()
