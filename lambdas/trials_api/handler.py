"""Lambda entry point of the trials API (REST v1 proxy): `POST /trials` and `GET /trials/{trialId}`."""

from __future__ import annotations

import os
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
from trials_api.service import find_trial, request_trial
from trials_api.store import DynamoDbTrialStore

logger = Logger()
app = APIGatewayRestResolver()
session = boto3.session.Session()


@lru_cache(maxsize=1)
def trial_store() -> DynamoDbTrialStore:
    return DynamoDbTrialStore(session.client("dynamodb"), os.environ["TRIALS_TABLE_NAME"])


@lru_cache(maxsize=1)
def trial_duration_seconds() -> int:
    return int(os.environ["TRIAL_DURATION_SECONDS"])


@app.post("/trials")
def post_trial() -> tuple[dict[str, Any], int]:
    try:
        # API Gateway validates the body too; the function does not rely on that being configured.
        request = RequestTrial.model_validate_json(app.current_event.decoded_body or "")
    except ValidationError as error:
        return {"message": "invalid trial request", "errors": _errors(error)}, 400
    trial = request_trial(
        request, store=trial_store(), now=int(time.time()), duration_seconds=trial_duration_seconds()
    )
    logger.info("Trial requested", extra={"trial_id": trial.trial_id, "trial_type": trial.type})
    return {"trialId": trial.trial_id, "status": trial.status, "expiresAt": trial.expires_at}, 202


@app.get("/trials/<trial_id>")
def get_trial(trial_id: str) -> tuple[dict[str, Any], int]:
    trial = find_trial(trial_id, store=trial_store())
    if trial is None:
        return {"message": f"trial {trial_id} not found"}, 404
    return trial.as_json(), 200


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


def _errors(error: ValidationError) -> list[dict[str, str]]:
    """Each broken field and why, without echoing the input back."""
    return [
        {"field": ".".join(str(part) for part in e["loc"]) or "body", "message": e["msg"]}
        for e in error.errors(include_url=False, include_input=False, include_context=False)
    ]
