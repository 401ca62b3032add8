"""Lambda entry point, invoked by the assignment state machine: `{"action": "claim", "trialId"}`."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from trial_pool.service import InvalidPoolRequest, PoolEmpty, claim, parse_claim
from trial_pool.table import DynamoDbPool

__all__ = ["InvalidPoolRequest", "PoolEmpty", "lambda_handler"]

logger = Logger()
session = boto3.session.Session()


@lru_cache(maxsize=1)
def pool() -> DynamoDbPool:
    return DynamoDbPool(session.client("dynamodb"), os.environ["POOL_TABLE_NAME"])


@logger.inject_lambda_context(correlation_id_path="trialId")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    trial_id = parse_claim(event)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # PoolEmpty propagates: Lambda reports errorType "PoolEmpty", which the workflow's Catch handles.
    environment = claim(trial_id, pool=pool(), now=now)
    logger.info("Environment claimed", extra={"trial_id": trial_id, **environment.as_json()})
    return environment.as_json()
