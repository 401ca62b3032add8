"""Lambda entry point: a `TrialRequested` event starts the trial's assignment state machine."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from assign_trial import config
from assign_trial.adapters import StepFunctionsWorkflow
from assign_trial.service import start_assignment
from shared import correlation
from shared.contracts.trials import InvalidTrialEvent, TrialRequested, parse_trial_event

__all__ = ["InvalidTrialEvent", "lambda_handler"]

settings = config.load()
logger = Logger()
session = boto3.session.Session()


@lru_cache(maxsize=1)
def workflow() -> StepFunctionsWorkflow:
    return StepFunctionsWorkflow(session.client("stepfunctions"), settings.state_machine_arn)


@logger.inject_lambda_context(correlation_id_path=correlation.EVENTBRIDGE)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    # Raised, not swallowed: after Lambda's retries an invalid event lands in the OnFailure DLQ with the text.
    trial = parse_trial_event(event, TrialRequested).detail
    started = start_assignment(trial, workflow=workflow())
    logger.info(
        "Assignment started" if started.new else "Assignment already running or done (redelivery)",
        extra={"trial_id": trial.trialId, "execution_arn": started.execution_arn},
    )
    return {"executionArn": started.execution_arn}
