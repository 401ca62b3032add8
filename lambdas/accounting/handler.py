"""Lambda entry point (EventBridge, async): PaymentCharged / PaymentRefunded become ledger entries."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from accounting.adapters import DynamoDBLedger, DynamoDBPayments
from accounting.config import load
from accounting.service import InvalidLedgerEvent, UnconfirmedPayment, parse_event, record_event
from shared import correlation
from shared.clock import utc_now

logger = Logger()
metrics = Metrics()
session = boto3.session.Session()
config = load()  # checked at INIT


@lru_cache(maxsize=1)
def ledger() -> DynamoDBLedger:
    return DynamoDBLedger(session.client("dynamodb"), table_name=config.ledger_table_name)


@lru_cache(maxsize=1)
def payments() -> DynamoDBPayments:
    return DynamoDBPayments(session.client("dynamodb"), table_name=config.payments_table_name)


@logger.inject_lambda_context(correlation_id_path=correlation.EVENTBRIDGE)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        parsed = parse_event(event)
        result = record_event(parsed, payments=payments(), ledger=ledger(), now=utc_now())
    except (InvalidLedgerEvent, UnconfirmedPayment) as error:
        # Raised, not swallowed: after Lambda's retries the event lands in the OnFailure DLQ with this text.
        metrics.add_metric(name="LedgerEventsRefused", unit=MetricUnit.Count, value=1)
        logger.error("Ledger event refused", extra={"reason": str(error)})
        raise
    metrics.add_metric(
        name="LedgerEntriesRecorded" if result["recorded"] else "LedgerEntriesSkipped",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.info("Ledger event handled", extra={"order_id": parsed.detail.orderId, **result})
    return result
