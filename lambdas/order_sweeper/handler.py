"""Lambda entry point (a scheduled rule, every 5 minutes): sweep stuck orders to NEEDS_ATTENTION."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_sweeper.adapters import DynamoDBOpenOrders
from order_sweeper.config import load
from order_sweeper.service import sweep
from shared import correlation
from shared.correlation import correlated

logger = Logger()
metrics = Metrics()
config = load()  # checked at INIT


@lru_cache(maxsize=1)
def orders() -> DynamoDBOpenOrders:
    return DynamoDBOpenOrders(
        boto3.client("dynamodb"),
        table_name=config.orders_table_name,
        index_name=config.orders_status_index_name,
    )


# The run's lines carry the schedule's event id; each moved order's line, that order's id.
@logger.inject_lambda_context(correlation_id_path=correlation.EVENTBRIDGE, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = sweep(orders(), now=datetime.now(UTC), stuck_after=timedelta(seconds=config.stuck_after_seconds))
    # Emitted every run, zero included, so its alarm sees data and not "missing".
    metrics.add_metric(name="OrdersNeedingAttention", unit=MetricUnit.Count, value=result.moved)
    for order_id in result.order_ids:  # one line per order, carrying its id: its flow's logs show the move
        with correlated(logger, order_id):
            logger.error("Order moved to NEEDS_ATTENTION", extra={"order_id": order_id})
    logger.info("Sweep done", extra={"found": result.found, "moved": result.moved})
    return {"found": result.found, "moved": result.moved}
