"""Lambda entry point of the order API (API Gateway REST proxy): POST /orders and GET /orders/{orderId}."""

from __future__ import annotations

import json
import re
import time
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

from orders_api.adapters import DynamoDBCatalogue, DynamoDBOrders
from orders_api.config import load
from orders_api.service import (
    Caller,
    Forbidden,
    IdempotencyConflict,
    InvalidOrder,
    caller_from,
    get_order,
    order_id_for,
    place_order,
)
from shared.clock import utc_now
from shared.contracts.orders import PlaceOrderRequest
from shared.correlation import flow_id
from shared.validation import field_errors

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Printable ASCII, no spaces: what clients put there (UUIDs, ULIDs, hashes), bounded.
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
CATALOGUE_BACKOFF_SECONDS = 0.05

config = load()  # a missing setting fails INIT, not the first order
logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver()
# One session for every client; the orders table shares the idempotency layer's DynamoDB client.
session = boto3.session.Session()
persistence = DynamoDBPersistenceLayer(table_name=config.idempotency_table_name, boto3_session=session)
idempotency_config = IdempotencyConfig(
    # The key is scoped to its caller: two callers using the same key place two orders.
    event_key_jmespath="[caller, key]",
    # The same key with another body is refused (422), not replayed; the token is left out, as the
    # idempotency table must not hold it (not even hashed).
    payload_validation_jmespath="order",
    expires_after_seconds=config.idempotency_expiry_seconds,
)


@lru_cache(maxsize=1)
def orders() -> DynamoDBOrders:
    return DynamoDBOrders(
        persistence.client,
        orders_table=config.orders_table_name,
        tokens_table=config.payment_tokens_table_name,
    )


@lru_cache(maxsize=1)
def catalogue() -> DynamoDBCatalogue:
    return DynamoDBCatalogue(
        persistence.client,
        table_name=config.inventory_table_name,
        sleep=time.sleep,
        backoff_seconds=CATALOGUE_BACKOFF_SECONDS,
    )


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status, content_type="application/json", body=json.dumps(body), headers=headers
    )


def accepted(placed: dict[str, str]) -> Response:
    return json_response(202, placed, headers={"Location": f"/orders/{placed['orderId']}"})


def invalid(errors: list[dict[str, str]]) -> Response:
    metrics.add_metric(name="InvalidOrders", unit=MetricUnit.Count, value=1)
    return json_response(400, {"message": "Invalid order", "errors": errors})


def current_caller() -> Caller | None:
    return caller_from(app.current_event.request_context.identity.raw_event)


def place(order: PlaceOrderRequest, caller: Caller, order_id: str | None = None) -> dict[str, str]:
    placed = place_order(
        order,
        caller,
        orders=orders(),
        catalogue=catalogue(),
        token_ttl_seconds=config.payment_token_ttl_seconds,
        now=utc_now,
        order_id=order_id,
    )
    # From here on the order's log lines carry its id, as every other log line of its flow does.
    logger.set_correlation_id(flow_id(placed))
    logger.info("Order stored", extra={"order_id": placed["orderId"], "lines": len(order.lines)})
    metrics.add_metric(name="OrdersPlaced", unit=MetricUnit.Count, value=1)
    return placed


@idempotent_function(
    data_keyword_argument="request", config=idempotency_config, persistence_store=persistence
)
def place_once(
    order: PlaceOrderRequest, caller: Caller, order_id: str, *, request: dict[str, Any]
) -> dict[str, str]:
    """`place`, once per (caller, Idempotency-Key): a retry gets the stored response (the same orderId).

    The order id comes from (caller, key) too, so a retry after a crash that left the idempotency
    record in progress finds the stored order instead of placing a second one.
    """
    return place(order, caller, order_id)


@app.post("/orders")
def post_order() -> Response:
    caller = current_caller()
    if caller is None:
        return json_response(403, {"message": "The request names no caller"})
    try:
        order = PlaceOrderRequest.model_validate_json(app.current_event.decoded_body or "")
    except ValidationError as error:
        return invalid(field_errors(error))
    key = app.current_event.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return accepted(place(order, caller))
    if not IDEMPOTENCY_KEY.fullmatch(key):
        return invalid(
            [{"field": IDEMPOTENCY_HEADER, "error": "must be 1 to 255 printable ASCII characters"}]
        )
    request = {
        "caller": caller.id,
        "key": key,
        "order": order.model_dump(mode="json", exclude={"paymentToken"}),
    }
    try:
        placed = place_once(order, caller, order_id_for(caller, key), request=request)
    except (IdempotencyValidationError, IdempotencyConflict):
        return json_response(422, {"message": "Idempotency-Key reused with a different request"})
    except IdempotencyAlreadyInProgressError:
        return json_response(
            409, {"message": "A request with this Idempotency-Key is in progress; retry later"}
        )
    logger.set_correlation_id(flow_id(placed))  # a replayed response did not pass through `place`
    return accepted(placed)


@app.get("/orders/<orderId>")
def get_order_by_id(orderId: str) -> Response:
    logger.set_correlation_id(orderId)
    caller = current_caller()
    found = None if caller is None else get_order(orderId, caller, orders=orders())
    if found is None:
        return json_response(404, {"message": "Order not found"})
    return json_response(200, found)


@app.exception_handler(InvalidOrder)
def refused_by_catalogue(error: InvalidOrder) -> Response:
    return invalid([{"field": e.field, "error": e.error} for e in error.errors])


@app.exception_handler(Forbidden)
def forbidden(error: Forbidden) -> Response:
    return json_response(403, {"message": str(error)})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency_config.register_lambda_context(context)  # in-progress records expire with this invocation
    return app.resolve(event, context)
