"""Lambda entry point (EventBridge, async): OrderStatusChanged to IoT Core topic orders/{orderId}/status."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_status.adapters import IotStatusPublisher, data_endpoint
from order_status.config import load
from order_status.service import InvalidStatusEvent, parse_event, publish_status
from shared import correlation

logger = Logger()
metrics = Metrics()
session = boto3.session.Session()
settings = load()  # checked at INIT


def describe_ats_endpoint() -> str:
    return str(session.client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"])


@lru_cache(maxsize=1)
def publisher() -> IotStatusPublisher:
    # Looked up once per execution environment, on the first event (never at INIT).
    endpoint = data_endpoint(
        configured=settings.iot_data_endpoint,
        endpoint_url=settings.aws_endpoint_url,
        describe=describe_ats_endpoint,
    )
    return IotStatusPublisher(session.client("iot-data", endpoint_url=endpoint))


@logger.inject_lambda_context(correlation_id_path=correlation.EVENTBRIDGE)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    try:
        change = parse_event(event).detail
    except InvalidStatusEvent:
        # Raised: after Lambda's retries the event lands in the OnFailure DLQ with this text.
        metrics.add_metric(name="InvalidStatusEvents", unit=MetricUnit.Count, value=1)
        raise
    topic = publish_status(change, publisher=publisher())
    metrics.add_metric(name="OrderStatusPublished", unit=MetricUnit.Count, value=1)
    logger.info("Order status published", extra={"order_id": change.orderId, "status": change.status})
    return {"topic": topic}
