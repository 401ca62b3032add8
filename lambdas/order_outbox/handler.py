"""Lambda entry point: a batch of orders-table stream records becomes order events on the bus.

At least once: a record whose events are not all published fails alone (a partial batch
response); the stream retries from it, so events of the records after it may be published again.
Consumers are idempotent.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from order_outbox.adapters import event_bridge_publisher, images_of
from order_outbox.config import load
from order_outbox.service import MalformedOrder, events_for
from shared.correlation import correlated, stream_record_flow_id
from shared.eventbus import EventBridgePublisher, PublishFailed

config = load()  # a missing setting fails INIT, not the first batch
logger = Logger()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
session = boto3.session.Session()


@lru_cache(maxsize=1)
def publisher() -> EventBridgePublisher:
    return event_bridge_publisher(session.client("events"), bus_name=config.event_bus_name)


def record_handler(record: DynamoDBRecord) -> int:
    """Publishes the record's events; raises (the record fails) if they cannot all be published."""
    with correlated(logger, stream_record_flow_id(record.raw_event)):  # this record's lines: its order
        return _publish(record)


def _publish(record: DynamoDBRecord) -> int:
    sequence_number = record.dynamodb.sequence_number if record.dynamodb else None
    old_image, new_image = images_of(record.raw_event)
    order_id = (new_image or old_image or {}).get("orderId")
    try:
        events = events_for(old_image, new_image)
    except MalformedOrder as error:
        # Retried, then sent to the OnFailure DLQ (alarmed) with the record's position in the stream.
        logger.error(
            "Order row makes no valid event",
            extra={"order_id": order_id, "sequence_number": sequence_number, "reason": str(error)},
        )
        raise
    if not events:
        return 0
    try:
        publisher().publish(*events)
    except PublishFailed as error:
        logger.error(
            "Order events not published",
            extra={"order_id": order_id, "sequence_number": sequence_number, "reason": str(error)},
        )
        raise
    logger.info(
        "Order events published",
        extra={"order_id": order_id, "detail_types": [event.DETAIL_TYPE for event in events]},
    )
    return len(events)


@logger.inject_lambda_context(clear_state=True)  # a batch starts with no correlation id
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
