"""Lambda entry point, invoked by the order workflow's compensation: refund the order's charge, once."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from payment.adapters import DynamoDBPayments
from payment.config import refund_config
from payment.provider import SimulatedPaymentProvider
from payment.service import InvalidRefundRequest, parse_refund_request, refund_order
from shared import correlation
from shared.clock import utc_now
from shared.eventbus import EventBridgePublisher

logger = Logger()
metrics = Metrics()
session = boto3.session.Session()
config = refund_config()  # checked at INIT


@lru_cache(maxsize=1)
def provider() -> SimulatedPaymentProvider:
    return SimulatedPaymentProvider(limit_cents=config.payment_limit_cents)


@lru_cache(maxsize=1)
def records() -> DynamoDBPayments:
    return DynamoDBPayments(session.client("dynamodb"), table_name=config.payments_table_name)


@lru_cache(maxsize=1)
def publisher() -> EventBridgePublisher:
    return EventBridgePublisher(session.client("events"), bus_name=config.event_bus_name)


@logger.inject_lambda_context(correlation_id_path=correlation.WORKFLOW_PAYLOAD)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = parse_refund_request(event)
    except InvalidRefundRequest:
        # Raised: the workflow's compensation stops at CompensationFailed, with this message as the cause.
        metrics.add_metric(name="InvalidRefundRequests", unit=MetricUnit.Count, value=1)
        raise
    result = refund_order(request, provider=provider(), records=records(), events=publisher(), now=utc_now)
    if result["refunded"]:
        metrics.add_metric(name="PaymentsRefunded", unit=MetricUnit.Count, value=1)
    logger.info("Refund processed", extra={"result": result})
    return result
