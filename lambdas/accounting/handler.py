"""Lambda entry point (EventBridge, async): OrderCompleted and refunded OrderFailed become ledger entries."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from accounting.ledger import DynamoDBLedger
from accounting.service import InvalidLedgerEvent, parse_event, record_event
from shared.clock import utc_now

logger = Logger()
metrics = Metrics()


@lru_cache(maxsize=1)
def ledger() -> DynamoDBLedger:
    return DynamoDBLedger(boto3.client("dynamodb"), table_name=os.environ["LEDGER_TABLE_NAME"])


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        parsed = parse_event(event)
    except InvalidLedgerEvent:
        # Raised, not swallowed: after Lambda's retries the event lands in the OnFailure DLQ with this text.
        metrics.add_metric(name="InvalidLedgerEvents", unit=MetricUnit.Count, value=1)
        raise
    result = record_event(parsed, ledger=ledger(), now=utc_now())
    metrics.add_metric(
        name="LedgerEntriesRecorded" if result["recorded"] else "LedgerEntriesSkipped",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.info("Ledger event handled", extra={"order_id": parsed.detail.orderId, **result})
    return result
