"""Lambda entry point: a batch of trials-table stream records becomes trial events on the bus."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.correlation import correlated, stream_record_flow_id
from shared.eventbus import EventBridgePublisher
from trial_stream import config
from trial_stream.adapters import SqsParkingLot
from trial_stream.service import PUBLISH_ATTEMPTS, RETRY_DELAY_SECONDS, BatchOutcome, handle_records

settings = config.load()
logger = Logger()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
session = boto3.session.Session()


class EventNotPublished(RuntimeError):
    """The record's event could not be put on the bus (or the malformed record could not be parked)."""


@lru_cache(maxsize=1)
def publisher() -> EventBridgePublisher:
    return EventBridgePublisher(
        session.client("events"),
        bus_name=settings.event_bus_name,
        attempts=PUBLISH_ATTEMPTS,
        backoff_seconds=RETRY_DELAY_SECONDS,
    )


@lru_cache(maxsize=1)
def parking() -> SqsParkingLot:
    return SqsParkingLot(session.client("sqs"), settings.parked_queue_url)


class ParkOnDemand:
    """The parking lot, whose SQS client is only created once a record must be parked (rarely)."""

    def park(self, reason: str, record: Mapping[str, Any]) -> None:
        parking().park(reason, record)


@logger.inject_lambda_context(clear_state=True)  # a batch starts with no correlation id
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # PutEvents takes 10 entries a call while BatchProcessor hands records over one at a time, so two
    # passes: the service maps, parks and publishes the whole batch in chunks of 10 (retrying failed
    # entries); then Powertools walks the records and fails exactly those still unpublished, which
    # gives the partial-batch response (and raises when every record failed, as Powertools does).
    outcome = handle_records(
        event.get("Records", []),
        publisher=publisher(),
        parking=ParkOnDemand(),
    )
    logger.info(
        "Stream batch handled",
        extra={
            "published": outcome.published,
            "parked": outcome.parked,
            "ignored": outcome.ignored,
            "failed": len(outcome.failed),
        },
    )
    return process_partial_response(
        event=event, record_handler=_reporter(outcome), processor=processor, context=context
    )


def _reporter(outcome: BatchOutcome) -> Callable[[DynamoDBRecord], None]:
    """The record handler of the second pass: fails the records the first pass could not finish.

    One line per record, carrying the record's trial id, so each trial's flow shows its stream step.
    """

    def report(record: DynamoDBRecord) -> None:
        sequence_number = record.dynamodb.sequence_number if record.dynamodb else None
        reason = outcome.failed.get(sequence_number or "")
        details = {"sequence_number": sequence_number, "event_name": record.raw_event.get("eventName")}
        with correlated(logger, stream_record_flow_id(record.raw_event)):
            if reason is not None:
                logger.error("Record not done", extra={**details, "reason": reason})
                raise EventNotPublished(reason)
            logger.info("Record done", extra=details)

    return report
