"""Lambda entry point of the order API (API Gateway REST proxy): POST /orders and GET /orders/{orderId}."""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from orders_api.repository import DynamoDBOrders
from orders_api.service import OrderNotPublished, get_order, place_order
from shared.contracts.orders import PlaceOrderRequest
from shared.eventbus import EventBridgePublisher

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Printable ASCII, no spaces: what clients put there (UUIDs, ULIDs, hashes), bounded.
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()
# One session for every client; the orders table shares the idempotency layer's DynamoDB client.
session = boto3.session.Session()
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE_NAME"], boto3_session=session)
idempotency_config = IdempotencyConfig(
    event_key_jmespath="key",  # the Idempotency-Key header
    payload_validation_jmespath="order",  # the same key with another body is refused, not replayed
    expires_after_seconds=int(os.environ["IDEMPOTENCY_EXPIRY_SECONDS"]),
)


@lru_cache(maxsize=1)
def orders() -> DynamoDBOrders:
    return DynamoDBOrders(persistence.client, table_name=os.environ["ORDERS_TABLE_NAME"])


@lru_cache(maxsize=1)
def publisher() -> EventBridgePublisher:
    return EventBridgePublisher(session.client("events"), bus_name=os.environ["EVENT_BUS_NAME"])


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status, content_type="application/json", body=json.dumps(body), headers=headers
    )


def accepted(placed: dict[str, str]) -> Response:
    return json_response(202, placed, headers={"Location": f"/orders/{placed['orderId']}"})


def invalid(errors: list[dict[str, str]]) -> Response:
    metrics.add_metric(name="InvalidOrders", unit=MetricUnit.Count, value=1)
    return json_response(400, {"message": "Invalid order", "errors": errors})


def field_errors(error: ValidationError) -> list[dict[str, str]]:
    """Each violation as {"field": "lines.0.quantity", "error": "..."}; never echoes the input."""
    return [
        {"field": ".".join(str(part) for part in e["loc"]) or "body", "error": e["msg"]}
        for e in error.errors(include_url=False, include_input=False)
    ]


def place(order: PlaceOrderRequest) -> dict[str, str]:
    placed = place_order(order, orders=orders(), publisher=publisher())
    logger.info(
        "Order placed",
        extra={"order_id": placed["orderId"], "total_cents": order.total_cents, "lines": len(order.lines)},
    )
    metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=1)
    return placed


@idempotent_function(
    data_keyword_argument="request", config=idempotency_config, persistence_store=persistence
)
def place_once(order: PlaceOrderRequest, *, request: dict[str, Any]) -> dict[str, str]:
    """`place`, once per Idempotency-Key: a retry gets the stored response (the same orderId)."""
    return place(order)


@app.post("/orders")
def post_order() -> Response:
    try:
        order = PlaceOrderRequest.model_validate_json(app.current_event.decoded_body or "")
    except ValidationError as error:
        return invalid(field_errors(error))
    key = app.current_event.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return accepted(place(order))
    if not IDEMPOTENCY_KEY.fullmatch(key):
        return invalid(
            [{"field": IDEMPOTENCY_HEADER, "error": "must be 1 to 255 printable ASCII characters"}]
        )
    try:
        placed = place_once(order, request={"key": key, "order": order.model_dump(mode="json")})
    except IdempotencyValidationError:
        return json_response(422, {"message": "Idempotency-Key reused with a different request"})
    except IdempotencyAlreadyInProgressError:
        return json_response(
            409, {"message": "A request with this Idempotency-Key is in progress; retry later"}
        )
    return accepted(placed)


@app.get("/orders/<orderId>")
def get_order_by_id(orderId: str) -> Response:
    found = get_order(orderId, orders=orders())
    if found is None:
        return json_response(404, {"message": f"Order {orderId} not found"})
    return json_response(200, found)


@app.exception_handler(OrderNotPublished)
def order_not_published(error: OrderNotPublished) -> Response:
    metrics.add_metric(name="OrderPublishFailures", unit=MetricUnit.Count, value=1)
    logger.error(
        "OrderPlaced not published; order marked FAILED",
        extra={"order_id": error.order_id, "reason": str(error)},
    )
    return json_response(503, {"message": f"Order {error.order_id} could not be accepted; please retry"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency_config.register_lambda_context(context)  # in-progress records expire with this invocation
    return app.resolve(event, context)
