"""Lambda entry point of the trials API (REST v1 proxy): `POST /trials` and `GET /trials/{trialId}`."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared.contracts.trials import RequestTrial
from shared.validation import field_errors
from trials_api import config
from trials_api.adapters import DynamoDbTrialStore
from trials_api.service import (
    IdempotencyKeyReused,
    find_trial,
    request_key,
    request_trial,
    valid_idempotency_key,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"

settings = config.load()
logger = Logger()
app = APIGatewayRestResolver()
session = boto3.session.Session()


@lru_cache(maxsize=1)
def trial_store() -> DynamoDbTrialStore:
    return DynamoDbTrialStore(
        session.client("dynamodb"),
        trials_table=settings.trials_table_name,
        requests_table=settings.trial_requests_table_name,
    )


@app.post("/trials")
def post_trial() -> tuple[dict[str, Any], int]:
    try:
        # API Gateway validates the body too; the function does not rely on that being configured.
        request = RequestTrial.model_validate_json(app.current_event.decoded_body or "")
    except ValidationError as error:
        return {"message": "invalid trial request", "errors": _errors(error)}, 400
    idempotency_key = _header(IDEMPOTENCY_HEADER)
    if idempotency_key is not None and not valid_idempotency_key(idempotency_key):
        return {"message": "invalid trial request", "errors": [_idempotency_key_error()]}, 400
    key = request_key(request, caller=_caller(), idempotency_key=idempotency_key)
    try:
        requested = request_trial(
            request,
            key=key,
            store=trial_store(),
            now=int(time.time()),
            duration_seconds=settings.trial_duration_seconds,
        )
    except IdempotencyKeyReused as error:
        return {"message": str(error)}, 422
    trial = requested.trial
    logger.set_correlation_id(trial.trial_id)  # the request's lines from here on carry its trial's id
    logger.info(
        "Trial requested" if requested.created else "Trial request repeated",
        extra={"trial_id": trial.trial_id, "trial_type": trial.type},
    )
    body = {"trialId": trial.trial_id, "status": trial.status, "expiresAt": trial.expires_at}
    return body, 202 if requested.created else 200


@app.get("/trials/<trial_id>")
def get_trial(trial_id: str) -> tuple[dict[str, Any], int]:
    logger.set_correlation_id(trial_id)
    trial = find_trial(trial_id, store=trial_store(), now=int(time.time()))
    if trial is None:
        return {"message": "trial not found"}, 404
    return trial.as_json(), 200


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


def _header(name: str) -> str | None:
    """A header by name, whatever its case (HTTP header names are case-insensitive)."""
    wanted = name.lower()
    return next((v for k, v in (app.current_event.headers or {}).items() if k.lower() == wanted), None)


def _caller() -> str:
    """Who signed the request (API Gateway's AWS_IAM identity): an Idempotency-Key is theirs alone."""
    identity = app.current_event.request_context.identity
    return identity.user_arn or identity.caller or identity.account_id or "anonymous"


def _idempotency_key_error() -> dict[str, str]:
    return {"field": IDEMPOTENCY_HEADER, "message": "8 to 128 printable characters without spaces"}


def _errors(error: ValidationError) -> list[dict[str, str]]:
    """Each broken field and why, without echoing the input back (the API's shape: `message`)."""
    return [{"field": e["field"], "message": e["error"]} for e in field_errors(error)]
