"""Lambda entry point, invoked by the order workflows: reserve, commit or release an order's stock."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from inventory.adapters import DynamoDBStock
from inventory.config import load
from inventory.service import InvalidInventoryRequest, OutOfStock, handle, parse_request
from shared import correlation
from shared.clock import utc_now

logger = Logger()
metrics = Metrics()
config = load()  # checked at INIT


@lru_cache(maxsize=1)
def stock() -> DynamoDBStock:
    return DynamoDBStock(boto3.client("dynamodb"), table_name=config.inventory_table_name, now=utc_now)


@logger.inject_lambda_context(correlation_id_path=correlation.WORKFLOW_PAYLOAD)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_request(event)
    except InvalidInventoryRequest:
        # Raised: the workflow's catch-all compensates, with this message as the cause.
        metrics.add_metric(name="InvalidInventoryRequests", unit=MetricUnit.Count, value=1)
        raise
    try:
        result = handle(request, store=stock())
    except OutOfStock as error:
        # Raised as is: its class name is the errorType the workflow catches to reject the order.
        metrics.add_metric(name="OutOfStock", unit=MetricUnit.Count, value=1)
        logger.info("Out of stock", extra={"reason": str(error)})
        raise
    if result.get("reserved") or result.get("committed") or result.get("released"):
        name = {"reserve": "StockReserved", "commit": "StockSold", "release": "StockReleased"}[request.action]
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info(f"Inventory {request.action}", extra={"result": result})
    return result
