"""Lambda entry point of the payment queue (SQS, partial batch responses): charge, answer the workflow."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from payment.adapters import DynamoDBPayments, StepFunctionsTasks
from payment.provider import SimulatedPaymentProvider
from payment.service import InvalidPaymentRequest, Outcome, parse_payment_request, process_payment
from payment.token_bridge import with_token
from shared.clock import utc_now

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
session = boto3.session.Session()

METRIC_OF = {
    Outcome.CHARGED: "PaymentsCharged",
    Outcome.ALREADY_CHARGED: "PaymentsRedelivered",
    Outcome.ALREADY_REFUNDED: "PaymentsRedelivered",
    Outcome.DECLINED: "PaymentsDeclined",
    Outcome.TRANSIENT: "PaymentsTransientFailures",
    Outcome.STALE: "PaymentsStale",
    Outcome.UNANSWERED: "PaymentsUnanswered",
}


@lru_cache(maxsize=1)
def provider() -> SimulatedPaymentProvider:
    return SimulatedPaymentProvider(limit_cents=int(os.environ.get("PAYMENT_LIMIT_CENTS", "100000")))


@lru_cache(maxsize=1)
def records() -> DynamoDBPayments:
    return DynamoDBPayments(session.client("dynamodb"), table_name=os.environ["PAYMENTS_TABLE_NAME"])


@lru_cache(maxsize=1)
def tasks() -> StepFunctionsTasks:
    return StepFunctionsTasks(session.client("stepfunctions"))


def record_handler(record: SQSRecord) -> str:
    logger.set_correlation_id(record.message_id)
    try:
        request = parse_payment_request(with_token(record.body, lambda: session.client("dynamodb")))
    except InvalidPaymentRequest as error:
        # Raised: the batch reports this message failed; after maxReceiveCount SQS parks it in the DLQ.
        metrics.add_metric(name="PaymentsPoisonMessages", unit=MetricUnit.Count, value=1)
        logger.error("Poison payment message", extra={"message_id": record.message_id, "reason": str(error)})
        raise
    outcome = process_payment(request, provider=provider(), records=records(), tasks=tasks(), now=utc_now)
    metrics.add_metric(name=METRIC_OF[outcome], unit=MetricUnit.Count, value=1)
    details = {"order_id": request.orderId, "attempt": request.attempt, "outcome": str(outcome)}
    if outcome is Outcome.UNANSWERED:
        logger.error("Charged, but the workflow no longer waits for the answer", extra=details)
    else:
        logger.info("Payment processed", extra=details)
    return str(outcome)


@logger.inject_lambda_context(clear_state=True)  # no correlation id left over from the last batch
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
