"""Lambda entry point of the payment queue (SQS, partial batch responses): charge, answer the workflow."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from payment.adapters import DynamoDBPayments, DynamoDBPaymentTokens, StepFunctionsTasks
from payment.config import charge_config
from payment.provider import SimulatedPaymentProvider
from payment.service import (
    InvalidPaymentRequest,
    Outcome,
    PaymentPorts,
    parse_payment_request,
    process_payment,
    task_token_of,
)
from shared.clock import utc_now
from shared.correlation import correlated, json_flow_id
from shared.eventbus import EventBridgePublisher

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
session = boto3.session.Session()
config = charge_config()  # checked at INIT: a misconfigured function fails before it takes a message

METRIC_OF = {
    Outcome.CHARGED: "PaymentsCharged",
    Outcome.ALREADY_CHARGED: "PaymentsRedelivered",
    Outcome.ALREADY_REFUNDED: "PaymentsRedelivered",
    Outcome.DECLINED: "PaymentsDeclined",
    Outcome.TRANSIENT: "PaymentsTransientFailures",
    Outcome.NO_TOKEN: "PaymentsWithoutToken",
    Outcome.STALE: "PaymentsStale",
    Outcome.LATE_REFUNDED: "PaymentsRefundedLate",
    Outcome.UNANSWERED: "PaymentsUnanswered",
}


@lru_cache(maxsize=1)
def tasks() -> StepFunctionsTasks:
    return StepFunctionsTasks(session.client("stepfunctions"))


@lru_cache(maxsize=1)
def ports() -> PaymentPorts:
    dynamodb = session.client("dynamodb")
    return PaymentPorts(
        provider=SimulatedPaymentProvider(limit_cents=config.payment_limit_cents),
        records=DynamoDBPayments(dynamodb, table_name=config.payments_table_name),
        tokens=DynamoDBPaymentTokens(dynamodb, table_name=config.payment_tokens_table_name),
        tasks=tasks(),
        events=EventBridgePublisher(session.client("events"), bus_name=config.event_bus_name),
        now=utc_now,
    )


def record_handler(record: SQSRecord) -> str:
    # Each record's lines carry its order's id; a message that names none, its own id.
    with correlated(logger, json_flow_id(record.body) or record.message_id):
        return _charge(record)


def _charge(record: SQSRecord) -> str:
    try:
        request = parse_payment_request(record.body)
    except InvalidPaymentRequest as error:
        metrics.add_metric(name="PaymentsPoisonMessages", unit=MetricUnit.Count, value=1)
        token = task_token_of(record.body)
        logger.error("Poison payment message", extra={"message_id": record.message_id, "reason": str(error)})
        if token is not None:
            # It can never become valid: its order fails now (and is compensated) instead of waiting
            # for the heartbeat. The message is done.
            tasks().fail(token, error="InvalidPaymentRequest", cause=str(error))
            return "invalid"
        raise  # no order to tell: the batch reports it failed, and SQS parks it in the DLQ
    try:
        outcome = process_payment(request, ports())
    except Exception:
        if int(record.attributes.approximate_receive_count) >= config.payment_max_receives:
            # The last receive before SQS parks the message: fail its order now, so the workflow
            # compensates instead of waiting for the heartbeat (the message still lands in the DLQ).
            metrics.add_metric(name="PaymentsPoisonMessages", unit=MetricUnit.Count, value=1)
            logger.exception(
                "Payment message failed on its last receive", extra={"order_id": request.orderId}
            )
            tasks().fail(
                request.taskToken, error="PaymentPoisonMessage", cause="the payment service kept failing"
            )
        raise
    metrics.add_metric(name=METRIC_OF[outcome], unit=MetricUnit.Count, value=1)
    details = {"order_id": request.orderId, "attempt": request.attempt, "outcome": str(outcome)}
    if outcome is Outcome.UNANSWERED:
        logger.error("Charged, but the workflow no longer waits for the answer", extra=details)
    else:
        logger.info("Payment processed", extra=details)
    return str(outcome)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
